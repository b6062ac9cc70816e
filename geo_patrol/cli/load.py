"""``geo-patrol load SOURCE FILE...``: one command per source of the registry."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from geo_patrol.cli import CRS_HELP, Group, cli, engine_of, settings_of
from geo_patrol.errors import GeoPatrolError

# -- loading --------------------------------------------------------------------------------

@cli.group(cls=Group)
def load() -> None:
    """Load files into the database: one transaction per file, the same file stored once."""


def _load_files(ctx: click.Context, files: tuple[Path, ...], loader: Any,
                stop_on_error: bool, report: Any = None, **options: Any) -> None:
    """Run ``loader`` on each file, one summary line each.

    A refused file is reported on stderr and the others still load (or, with
    ``--stop-on-error``, nothing more is tried); the exit status is 1 if any file was refused.
    """
    engine = engine_of(ctx)
    refused = 0
    for path in files:
        try:
            result = loader(engine, path, settings=settings_of(ctx), **options)
        except GeoPatrolError as exc:
            refused += 1
            click.echo(f"Error: {exc}", err=True)
            if stop_on_error:
                break
            continue
        if report is not None:
            report(result)
        click.echo(result.summary_line())
    if refused:
        ctx.exit(1)


_stop_option = click.option(
    "--stop-on-error", is_flag=True,
    help="Stop at the first refused file (by default the other files still load).")
_column_option = click.option(
    "--column", "columns", multiple=True, metavar="NAME=HEADER",
    help="Read column NAME from the file's HEADER (repeatable), e.g. --column name=队员姓名.")
_encoding_option = click.option("--encoding", default=None,
                                help="Text encoding of CSV files (detected: UTF-8, BOM, GBK).")
_sheet_option = click.option("--sheet", default=None, help="XLSX sheet (the first by default).")
_tz_option = click.option("--tz", default=None,
                          help="Time zone of times written without one (e.g. Asia/Shanghai); "
                               "without it such times are refused.")


def _mapping(columns: tuple[str, ...]) -> dict[str, str] | None:
    from geo_patrol.ingest.tables import parse_mapping

    return parse_mapping(columns) or None


def _print_repairs(result: Any) -> None:
    for repair in result.details.get("repairs", []):
        click.echo(f"  repaired feature {repair['feature']} ({repair['name']}): "
                   f"{repair['reason']}; area change {repair['area_change_pct']:+.4f}%")


def _files_command(name: str, *options: Any) -> Any:
    """Register ``load NAME FILES...`` with ``options``, ``--stop-on-error`` and the context."""
    def wrap(fn: Any) -> Any:
        for option in reversed([
                click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path)),
                *options, _stop_option, click.pass_context]):
            fn = option(fn)
        return load.command(name)(fn)

    return wrap


@_files_command(
    "boundaries",
    click.option("--level", required=True,
                 type=click.Choice(["city", "district", "station", "community", "grid"])),
    click.option("--crs", required=True, help=CRS_HELP),
    click.option("--name-field", default="name", show_default=True),
    click.option("--code-field", default=None, help="Attribute with an area code (e.g. adcode)."),
    click.option("--parent-field", default=None,
                 help="Attribute naming the parent area; by default parents are found by "
                      "location."),
    click.option("--repair", is_flag=True, help="Make invalid polygons valid and report each."))
def load_boundaries_cmd(ctx: click.Context, files: tuple[Path, ...], stop_on_error: bool,
                        **options: Any) -> None:
    """Load district, police station, community or grid boundaries (GeoJSON/GPKG/Shapefile)."""
    from geo_patrol.services.sources import load_boundaries

    _load_files(ctx, files, load_boundaries, stop_on_error, _print_repairs, **options)


@_files_command("streets")
def load_streets_cmd(ctx: click.Context, files: tuple[Path, ...], stop_on_error: bool) -> None:
    """Load the street network from local OSM files (.osm, .osm.bz2, .osm.pbf)."""
    from geo_patrol.services.sources import load_streets

    _load_files(ctx, files, load_streets, stop_on_error)


@_files_command("volunteers", _column_option, _encoding_option, _sheet_option)
def load_volunteers_cmd(ctx: click.Context, files: tuple[Path, ...], columns: tuple[str, ...],
                        stop_on_error: bool, **options: Any) -> None:
    """Load volunteer rosters (CSV or XLSX; English or Chinese headers).

    Volunteers already registered (same number) are updated. ID numbers are checked
    (GB 11643), encrypted at rest and hashed to catch the same person twice.
    """
    from geo_patrol.services.sources import load_volunteers

    _load_files(ctx, files, load_volunteers, stop_on_error, mapping=_mapping(columns),
                **options)


@_files_command("training", _column_option, _encoding_option, _sheet_option)
def load_training_cmd(ctx: click.Context, files: tuple[Path, ...], columns: tuple[str, ...],
                      stop_on_error: bool, **options: Any) -> None:
    """Load training sign-in sheets (CSV or XLSX; Chinese or English headers).

    One row per volunteer and session: course, date, volunteer number and result (出勤,
    缺勤, 合格), with place, form (现场/线上/跟班), trainer and batch if the sheet has them. A
    pass certifies the course's skill for its validity; loading a corrected sheet updates
    the results that changed.
    """
    from geo_patrol.services.sources import load_training

    _load_files(ctx, files, load_training, stop_on_error, mapping=_mapping(columns),
                **options)


def _progress(path: Path) -> tuple[Any, Any]:
    """A tqdm bar over a load's stages that only appears when the load takes a while."""
    from tqdm import tqdm

    stages = ("reading", "checking", "cleaning", "storing")
    bar = tqdm(total=len(stages), desc=path.name, unit="stage", delay=2.0, leave=False,
               file=sys.stderr)

    def step(stage: str) -> None:
        bar.set_postfix_str(stage)
        if stage != stages[0]:
            bar.update(1)

    return bar, step


@_files_command(
    "tracks",
    click.option("--crs", default=None,
                 help="CRS of the coordinates: wgs84, gcj02, bd09 or EPSG:<code> (required for "
                      "CSV; GPX and GeoJSON default to wgs84)."),
    click.option("--volunteer", default=None,
                 help="Volunteer number for files without a volunteer column (a phone's GPX)."),
    _tz_option,
    click.option("--kind", type=click.Choice(["patrol", "passive"]), default=None,
                 help="Deliberate patrol or passive coverage at work; by default from each "
                      "volunteer's occupation (taxi drivers and delivery riders are passive)."),
    click.option("--format", "fmt", type=click.Choice(["gpx", "geojson", "csv"]), default=None,
                 help="File format when the file name does not tell."),
    _column_option, _encoding_option)
def load_tracks_cmd(ctx: click.Context, files: tuple[Path, ...], columns: tuple[str, ...],
                    stop_on_error: bool, **options: Any) -> None:
    """Load GPS fixes from GPX, GeoJSON or CSV exports.

    Fixes are split into tracks on gaps over 120 s; speed jumps, poor accuracy, duplicates and
    out-of-order fixes are flagged and counted (kept, but left out of coverage).
    """
    from geo_patrol.services.sources import load_tracks

    def one(engine: Any, path: Path, **kw: Any) -> Any:
        bar, step = _progress(Path(path))
        try:
            return load_tracks(engine, path, progress=step, **kw)
        finally:
            bar.close()

    def report(result: Any) -> None:
        d = result.details
        if result.flagged or d.get("untimed_points"):
            click.echo(f"  flagged: {d.get('speed_jump', 0)} speed jumps, "
                       f"{d.get('poor_accuracy', 0)} poor accuracy, {d.get('duplicate', 0)} "
                       f"duplicates, {d.get('out_of_order', 0)} out of order; "
                       f"{d.get('untimed_points', 0)} points without time skipped")

    _load_files(ctx, files, one, stop_on_error, report, mapping=_mapping(columns), **options)


def _ledger_command(kind: str, crs_help: str, extra: list[Any] | None = None) -> Any:
    """A ``load <kind>`` command for a point ledger: files, CRS, time zone, column mapping,
    encoding, sheet, stop-on-error; the docstring of the decorated function is its help."""

    def wrap(fn: Any) -> Any:
        def command(ctx: click.Context, files: tuple[Path, ...], columns: tuple[str, ...],
                    stop_on_error: bool, **options: Any) -> None:
            from geo_patrol.services.sources import SOURCES

            _load_files(ctx, files, SOURCES[kind], stop_on_error,
                        mapping=_mapping(columns), **options)

        command.__doc__ = fn.__doc__
        return _files_command(
            kind, click.option("--crs", default=None, help=CRS_HELP + " " + crs_help),
            *(extra or []), _tz_option, _column_option, _encoding_option, _sheet_option,
        )(command)

    return wrap


@_ledger_command("hazards", "Required for CSV/XLSX.")
def load_hazards_cmd() -> None:
    """Load campaign hazard ledgers; rows sharing an id are one hazard's status history."""


@_ledger_command("reports", "Required for CSV/XLSX.")
def load_reports_cmd() -> None:
    """Load volunteers' reports (who, when, where, category, text, verification, reward)."""


@_ledger_command("incidents", "Vector files default to their own.", [click.option(
    "--category", default=None, help="Category for files without a category column.")])
def load_incidents_cmd() -> None:
    """Load police incidents (CSV/XLSX, GeoJSON, GeoPackage, Shapefile; any CRS)."""


