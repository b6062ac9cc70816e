"""W14-W15: long work as jobs, from the click to the result on the page, and the pages that
read stored results, on the generated demo.

    python -m benchmarks.jobs [--scale small|city] [--requests 40] [--no-rota]

W14: in headless Chromium, a planner's zones plan and a week's rota for the busiest district,
from the click to the result on the page (the job queued, run by the worker, its progress
polled, the page reloaded); a second identical click joins the first job. Baseline in the
same run: the same plan and rota computed on the request as before (in this process, no page).
W15: ``/dashboard``, ``/community/<id>`` and ``/crime`` served from stored results (p50/p95
after the jobs have stored them), against the crime page and dashboard figures computed on
the request as before.

Each figure is also given as a ratio to its target (``*_vs_target``: at most 1 meets it) and
to its baseline of the same run (``w14_zones_vs_request``, ``w15_crime_ratio``).
``--no-rota`` leaves the rota and its baseline out (they take the longest on a busy machine).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import time
import urllib.request

import sqlalchemy as sa

from benchmarks._common import (
    DEMO_UNTIL,
    Stopwatch,
    demo_arguments,
    demo_database,
    emit,
    peak_rss_mib,
    percentile,
    serve_app,
)
from geo_patrol.planning.plan import PlanParams
from geo_patrol.services import crime, jobs
from geo_patrol.services import rota as rota_service
from geo_patrol.services.planning import plan_area
from geo_patrol.store.results import busiest_district, find_run

#: The targets: from the click to the result (s), and a page's p95 (ms).
ZONES_TARGET_S, ROTA_TARGET_S, PAGE_TARGET_MS = 10.0, 30.0, 300.0

#: The rota asked for on the page: a week from the day after the demo.
ROTA = {"days": 7, "revisit_days": 3, "minutes": 90.0, "seed": 0}


def _get(url: str, auth: dict[str, str]) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url, headers=auth), timeout=120) as r:
        body = r.read()
    assert b"data-job" not in body, f"{url} is still computing"
    return (time.perf_counter() - start) * 1000


def _browser_times(base: str, area_id: int, start: dt.date, *, rota: bool = True
                   ) -> dict[str, object]:
    """Zones and rota from the click to the result, in Chromium, signed in as a user."""
    from playwright.sync_api import sync_playwright

    out: dict[str, object] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or
                                    "/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="zh-CN")
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "bench")
        page.fill("input[name=password]", "bench-password-" + str(os.getpid()))
        page.click("#login button[type=submit]")
        page.wait_for_selector("#whoami")
        page.goto(f"{base}/planner?area={area_id}")
        page.fill("#plan-form input[name=zones]", "4")
        t = time.perf_counter()
        page.click("#plan-form button[type=submit]")
        page.wait_for_selector("#plan-job, #zones", timeout=600_000)
        job = page.locator("#plan-job").get_attribute("data-job") \
            if page.locator("#plan-job").count() else None
        # a second identical click, in another tab, joins the first job
        other = browser.new_page()
        other.context.add_cookies(page.context.cookies())
        other.goto(page.url)
        joined = other.locator("#plan-job").get_attribute("data-job") \
            if other.locator("#plan-job").count() else None
        page.wait_for_selector("#zones", timeout=600_000)
        out["w14_zones_click_s"] = round(time.perf_counter() - t, 2)
        out["w14_zones_joined"] = job is None or job == joined
        if not rota:
            browser.close()
            return out
        page.fill("#rota-form input[name=from]", start.isoformat())
        t = time.perf_counter()
        page.click("#rota-form button[type=submit]")
        page.wait_for_selector("#rota-job, #rota-week", timeout=600_000)
        job = page.locator("#rota-job").get_attribute("data-job") \
            if page.locator("#rota-job").count() else None
        # the page shows the area's last stored rota beside the job's progress: the click's
        # rota is on the page once the job is done and the page has read it
        if job is not None:
            page.wait_for_selector("#rota-job", state="detached", timeout=600_000)
        page.wait_for_selector("#rota-week", timeout=600_000)
        out["w14_rota_click_s"] = round(time.perf_counter() - t, 2)
        out["w14_rota_job"] = job
        browser.close()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    demo_arguments(parser, scale="small", requests=40)
    parser.add_argument("--no-rota", dest="rota", action="store_false",
                        help="leave the rota and its baseline out")
    args = parser.parse_args(argv)
    figures: dict[str, object] = {"workload": "W14-W15", "scale": args.scale}
    start = DEMO_UNTIL + dt.timedelta(days=1)
    with demo_database(args.scale, DEMO_UNTIL) as (engine, settings, summary):
        settings = settings.with_(jobs_per_user=8)
        with engine.connect() as conn:
            run = find_run(conn, summary.run_id)
            district = busiest_district(conn, run["id"])
            name = conn.execute(sa.text("SELECT name FROM areas WHERE id = :d"),
                                {"d": district}).scalar_one()
            community = conn.execute(sa.text(
                "SELECT r.area_id FROM area_results r WHERE r.run_id = :r AND "
                "r.level = 'community' ORDER BY r.total_m DESC LIMIT 1"),
                {"r": run["id"]}).scalar_one()
            # a database reused from an earlier run: its jobs forgotten, each made anew
            conn.execute(sa.text("DELETE FROM jobs"))
            conn.commit()
        print(f"busiest district {name} ({district}), run {run['id']}")

        # baselines: computed on the request as before, in this process
        with Stopwatch() as sw, engine.connect() as conn:
            plan_area(conn, run, {"id": district, "name": name}, PlanParams(zones=4),
                      settings=settings)
        figures["w14_zones_request_s"] = round(sw.seconds, 2)
        if args.rota:
            with Stopwatch() as sw:
                rota_service.create(engine, settings, area_id=district, start=start,
                                    by="bench-baseline", **ROTA)
            figures["w14_rota_request_s"] = round(sw.seconds, 2)
        with Stopwatch() as sw:
            crime.page(engine, settings, crime.Study())
        figures["w15_crime_request_s"] = round(sw.seconds, 2)
        print(f"on the request: zones {figures['w14_zones_request_s']} s, rota "
              f"{figures.get('w14_rota_request_s', '-')} s, crime page "
              f"{figures['w15_crime_request_s']} s")

        base, auth, server = serve_app(engine, settings)
        try:
            # W14: from the click to the result on the page
            figures |= _browser_times(base, district, start, rota=args.rota)
            print(f"W14 from the click: zones {figures['w14_zones_click_s']} s "
                  f"(joined: {figures['w14_zones_joined']}), rota "
                  f"{figures.get('w14_rota_click_s', '-')} s")

            # W15: pages from stored results (computed once by their jobs)
            pages = {"dashboard": f"{base}/dashboard?district={district}",
                     "community": f"{base}/community/{community}",
                     "crime": f"{base}/crime"}
            for key, url in pages.items():
                deadline = time.monotonic() + 900
                while True:  # until the page's jobs have stored their results
                    with urllib.request.urlopen(urllib.request.Request(url, headers=auth),
                                                timeout=120) as r:
                        body = r.read().decode()
                    found = re.findall(r'data-job="([^"]+)"', body)
                    if not found:
                        break
                    assert time.monotonic() < deadline, f"{url} never finished"
                    time.sleep(0.5)
                ms = [_get(url, auth) for _ in range(args.requests)]
                figures[f"w15_{key}_p50_ms"] = round(percentile(ms, 50), 1)
                figures[f"w15_{key}_p95_ms"] = round(percentile(ms, 95), 1)
            print("W15 p95 ms: " + ", ".join(f"{k} {figures[f'w15_{k}_p95_ms']}"
                                             for k in pages))
        finally:
            server.close()
            jobs.stop_workers()
        # each figure against its target and its baseline of the same run
        figures["w14_zones_vs_target"] = round(figures["w14_zones_click_s"] / ZONES_TARGET_S, 2)
        figures["w14_zones_vs_request"] = round(
            figures["w14_zones_click_s"] / figures["w14_zones_request_s"], 2)
        if args.rota:
            figures["w14_rota_vs_target"] = round(figures["w14_rota_click_s"] / ROTA_TARGET_S,
                                                  2)
        for key in pages:
            figures[f"w15_{key}_vs_target"] = round(
                figures[f"w15_{key}_p95_ms"] / PAGE_TARGET_MS, 2)
        figures["w15_crime_ratio"] = round(
            figures["w15_crime_request_s"] * 1000 / figures["w15_crime_p95_ms"], 1)
        figures["peak_rss_mib"] = round(peak_rss_mib())
    print(f"{'figure':<28}{'measured':>12}{'target':>10}{'ratio':>8}")
    for name, unit, target, prefix in (
            ("zones, from the click", "s", ZONES_TARGET_S, "w14_zones"),
            ("rota, from the click", "s", ROTA_TARGET_S, "w14_rota")):
        if prefix + "_click_s" not in figures:
            continue
        print(f"{name:<28}{figures[prefix + '_click_s']:>10} {unit}{target:>8} {unit}"
              f"{figures[prefix + '_vs_target']:>8}")
    for key in ("dashboard", "community", "crime"):
        print(f"{'/' + key + ' p95':<28}{figures[f'w15_{key}_p95_ms']:>9} ms{PAGE_TARGET_MS:>7} ms"
              f"{figures[f'w15_{key}_vs_target']:>8}")
    print(f"zones from the click / on the request: {figures['w14_zones_vs_request']}; crime "
          f"page on the request / stored p95: {figures['w15_crime_ratio']}")
    emit(figures)


if __name__ == "__main__":
    main()
