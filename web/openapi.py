"""The OpenAPI description of the JSON/GeoJSON API."""

from __future__ import annotations

from typing import Any

_ERROR = {"description": "error", "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/Error"}}}}
_RUN = {"name": "run_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_GEOJSON = {"description": "GeoJSON FeatureCollection", "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/FeatureCollection"}}}}
_ROWS = {"description": "rows", "content": {"application/json": {"schema": {
    "type": "array", "items": {"type": "object"}}}}}


_OBJECT = {"description": "object", "content": {"application/json": {"schema": {
    "type": "object"}}}}
_DENIED = {"401": _ERROR, "403": _ERROR}


#: What a job makes, asked for while the job has not finished: the job to follow.
_PENDING = {"description": "being made by a job: its address (Location, and `job` in the "
                           "body) to follow; ask again once it is done",
            "content": {"application/json": {"schema": {"type": "object"}}}}


def _op(summary: str, responses: dict[str, Any], params: list[dict] | None = None, *,
        public: bool = False, job: bool = False) -> dict:
    return {"get": {"summary": summary, "parameters": params or [],
                    **({"security": []} if public else {}),
                    "responses": {**responses, **({"202": _PENDING} if job else {}),
                                  "400": _ERROR, "404": _ERROR,
                                  **({} if public else _DENIED)}}}


_CRIME = [
    {"name": "area", "in": "query", "schema": {"type": "integer"}},
    {"name": "class", "in": "query", "schema": {"type": "string", "default": "property"}},
    {"name": "days", "in": "query", "schema": {"type": "integer", "default": 90}},
    {"name": "until", "in": "query", "schema": {"type": "string", "format": "date"}}]

SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "geo-patrol API", "version": "0.1.0",
             "description": "Patrol coverage, hazards and gaps from stored analysis runs. "
                            "Personal data is masked."},
    "paths": {
        "/api/health": _op("Database reachable", {"200": {"description": "ok"}}, public=True),
        "/api/me": _op("The signed-in account (a volunteer's own record, masked)",
                       {"200": {"description": "account", "content": {"application/json": {
                           "schema": {"type": "object"}}}}}),
        "/api/tracks": {
            **_op("A local day's tracks of an area, or a volunteer's own", {"200": _GEOJSON}, [
                {"name": "day", "in": "query", "required": True,
                 "schema": {"type": "string", "format": "date"}},
                {"name": "area", "in": "query", "schema": {"type": "integer"}}]),
            "post": {"summary": "Upload a track file (a volunteer's own)",
                     "requestBody": {"required": True, "content": {"multipart/form-data": {
                         "schema": {"type": "object", "required": ["file"], "properties": {
                             "file": {"type": "string", "format": "binary"},
                             "crs": {"type": "string"}, "tz": {"type": "string"},
                             "volunteer": {"type": "string"}}}}}},
                     "responses": {"200": {"description": "already stored"},
                                   "201": {"description": "stored"}, "400": _ERROR,
                                   "404": _ERROR, "409": _ERROR, "413": _ERROR, **_DENIED}}},
        "/api/plan": _op("A patrol plan for an area: zones, posts, loops, proposed volunteers, "
                         "expected coverage (GeoJSON)", {"200": _GEOJSON}, [
            {"name": "area", "in": "query", "required": True, "schema": {"type": "integer"}},
            {"name": "zones", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                        "maximum": 200}},
            {"name": "minutes", "in": "query", "schema": {"type": "number", "minimum": 10,
                                                          "maximum": 600}},
            {"name": "speed", "in": "query", "schema": {"type": "number", "minimum": 1,
                                                        "maximum": 30}},
            {"name": "dwell", "in": "query", "schema": {"type": "number", "minimum": 0,
                                                        "maximum": 60}},
            {"name": "hazard_weight", "in": "query", "schema": {"type": "number", "minimum": 0,
                                                                "maximum": 100}},
            {"name": "incident_weight", "in": "query", "schema": {"type": "number",
                                                                  "minimum": 0, "maximum": 100}},
            {"name": "run", "in": "query", "schema": {"type": "integer"}}], job=True),
        "/api/reports": {"post": {
            "summary": "A volunteer's report (WGS-84 point), pending verification",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["category", "lon", "lat"], "properties": {
                    "category": {"type": "string"}, "text": {"type": "string"},
                    "lon": {"type": "number"}, "lat": {"type": "number"}}}}}},
            "responses": {"201": {"description": "stored"}, "400": _ERROR, "409": _ERROR,
                          **_DENIED}}},
        "/api/areas": _op("Areas of a level (GeoJSON)", {"200": _GEOJSON}, [
            {"name": "level", "in": "query", "schema": {
                "type": "string", "enum": ["city", "district", "station", "community", "grid"]}}]),
        "/api/summary": _op("Size and street length per area", {"200": _ROWS}, [
            {"name": "level", "in": "query", "schema": {"type": "string"}}]),
        "/api/runs": _op("Analysis runs, newest first", {"200": _ROWS}),
        "/api/runs/{run_id}/areas": _op("Coverage per area", {"200": _ROWS}, [
            _RUN, {"name": "level", "in": "query", "schema": {"type": "string"}}]),
        "/api/runs/{run_id}/gaps": _op("Gaps, highest priority first", {"200": _GEOJSON}, [
            _RUN, {"name": "area", "in": "query", "schema": {"type": "integer"}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}}]),
        "/api/runs/{run_id}/hazards": _op("Hazard compliance (inspector masked)",
                                          {"200": _GEOJSON}, [
            _RUN, {"name": "area", "in": "query", "schema": {"type": "integer"}},
            {"name": "category", "in": "query", "schema": {"type": "string"}},
            {"name": "status", "in": "query", "schema": {"type": "string"}}]),
        "/api/runs/{run_id}/daily/{area_id}": _op("Daily coverage of an area", {"200": _ROWS}, [
            _RUN, {"name": "area_id", "in": "path", "required": True,
                   "schema": {"type": "integer"}}]),
        "/api/training/status": _op(
            "Per community and course: volunteers it is for, current, expiring, expired and "
            "untrained certificates, share current", {"200": _OBJECT}),
        "/api/training/batches": _op(
            "The next batches of a course, by community and trade (names masked)",
            {"200": _OBJECT}, [
                {"name": "course", "in": "query", "required": True,
                 "schema": {"type": "string"}},
                {"name": "size", "in": "query", "schema": {"type": "integer", "default": 30}}]),
        "/api/campaigns": _op("Campaigns (period, districts, target categories), newest first",
                              {"200": _OBJECT}),
        "/api/campaigns/{campaign_id}": _op(
            "A campaign's progress toward zero: per district and category, the burn-down, the "
            "units never visited, schools checked in their windows", {"200": _OBJECT}, [
                {"name": "campaign_id", "in": "path", "required": True,
                 "schema": {"type": "integer"}}]),
        "/api/force": _op("Volunteer-hours per community, weekday and time slot a rota can "
                          "count on", {"200": _OBJECT}, [
            {"name": "area", "in": "query", "schema": {"type": "integer"}},
            {"name": "weeks", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                        "maximum": 52}}]),
        "/api/rotas": _op("Stored rotas in scope, newest first", {"200": _OBJECT}, [
            {"name": "area", "in": "query", "schema": {"type": "integer"}}]),
        "/api/rotas/{rota_id}": _op(
            "A rota's walks (GeoJSON: day, slot, start, streets, hazards, hot spot; roster "
            "numbers only for roles that see people) with its figures: expected coverage, "
            "shortfall, solver gap, randomness", {"200": _GEOJSON}, [
                {"name": "rota_id", "in": "path", "required": True,
                 "schema": {"type": "integer"}}]),
        "/api/jobs/{job_id}": _op(
            "A job's state (queued, running, done, failed), progress (0-1) and error: a zones "
            "plan or a rota being made", {"200": _OBJECT}, [
                {"name": "job_id", "in": "path", "required": True,
                 "schema": {"type": "integer"}}]),
        "/api/crime/hotspots": _op(
            "Gi* hot and cold street segments (GeoJSON) with the concentration figures",
            {"200": _GEOJSON}, _CRIME, job=True),
        "/api/crime/patterns": _op("Incidents by weekday and hour (or weekday only, for "
                                   "dates-only records) and by week", {"200": _OBJECT}, _CRIME,
                                   job=True),
        "/api/crime/near-repeat": _op("Knox near-repeat bands, the risk's reach and the open "
                                      "alert areas", {"200": _OBJECT}, _CRIME, job=True),
        "/api/crime/evaluation": _op("Hit rate, PAI and PEI of the hot spots and forecasts on "
                                     "held-out weeks, each forecast from the weeks before it, "
                                     "against baselines; the method favoured for the rota and "
                                     "the self-exciting process's parameters",
                                     {"200": _OBJECT}, _CRIME, job=True),
        "/api/evidence/dose": _op(
            "Minutes of presence at a rota's hot spots (stays from volunteers' clean fixes) per "
            "hot spot and week against its plan and Koper's 10-15-minute stop, the share of "
            "the planned dose delivered, and the forecast its hot spots came from",
            {"200": _OBJECT}, [{"name": "rota", "in": "query", "required": True,
                                "schema": {"type": "integer"}}], job=True),
        "/api/evidence/trial": _op(
            "A randomised trial of hot-spot patrols: the patrol dose each arm received, the "
            "change in incidents per hot spot with its randomisation p-value and interval, the "
            "weighted displacement quotient of the streets around, and the verdict in words "
            "(interim while it runs)",
            {"200": _OBJECT}, [{"name": "trial", "in": "query", "required": True,
                                "schema": {"type": "integer"}}], job=True),
    },
    "security": [{"bearer": []}, {"session": []}],
    "components": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "a token from `geo-patrol users token NAME`"},
            "session": {"type": "apiKey", "in": "cookie", "name": "session"}},
        "schemas": {
        "Error": {"type": "object", "required": ["error", "message"],
                  "properties": {"error": {"type": "string"}, "message": {"type": "string"}}},
        "FeatureCollection": {"type": "object", "required": ["type", "features"],
                              "properties": {"type": {"type": "string"},
                                             "features": {"type": "array",
                                                          "items": {"type": "object"}}}},
    }},
}
