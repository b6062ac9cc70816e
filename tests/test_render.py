"""Rendering without a database: the recency bins are one rule in tables, folium and tiles."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from geo_patrol.analysis.recency import LABELS, recency_bin, recency_lengths
from geo_patrol.render.maps import (RECENCY_COLOURS, geojson_features, recency_colour,
                                    recency_legend, recency_style_js)

#: days since the last visit -> the bin a person must see it in
EXPECTED = {0.5: "0-1", 0.999: "0-1", 1.0: "1-3", 2.9: "1-3", 3.0: "3-7", 7.0: "7+",
            30.0: "7+"}


@pytest.mark.parametrize("days, label", EXPECTED.items())
def test_a_segment_has_one_colour_everywhere(days, label):
    # the map's line colour
    assert recency_colour(days) == RECENCY_COLOURS[label]
    # the tables' bin (the area recency sums)
    lengths = recency_lengths(np.array([days]), np.array([100.0]))
    assert [k for k, v in lengths.items() if v[0] > 0] == [label]
    assert LABELS[int(recency_bin(days)[0])] == label


def test_never_visited():
    assert recency_colour(None) == recency_colour(float("nan")) == RECENCY_COLOURS["never"]


def test_tile_style_bins_like_the_map():
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed (scripts/setup.sh installs it for the front-end assets)")
    days = [*EXPECTED, None]
    script = (f"const f = {recency_style_js()};"
              f"console.log(JSON.stringify({json.dumps(days)}.map(d => f({{days: d}}, 15).color)));")
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [recency_colour(d) for d in days]


def test_legend_names_the_bins_as_they_are_drawn():
    title, rows = recency_legend("zh")
    assert title == "距上次巡逻（天）"
    assert [text for _, text in rows] == ["< 1", "1–3", "3–7", "≥ 7", "期内未巡逻"]
    assert [c for c, _ in rows] == [RECENCY_COLOURS[k] for k in LABELS]


def test_popup_text_is_escaped_at_the_render_boundary():
    import geopandas as gpd
    import shapely

    frame = gpd.GeoDataFrame({"name": ['<img src=x onerror="alert(1)">'], "colour": ["#fff"]},
                             geometry=[shapely.Point(110, 40.6)], crs=4326)
    props = geojson_features(frame, ["name", "colour"], False)["features"][0]["properties"]
    assert props["name"] == "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"
    assert props["colour"] == "#fff"


@pytest.mark.parametrize(("hours", "lang", "text"), [
    (None, "zh", "—"), (float("nan"), "en", "—"), (0.25, "zh", "15 分钟"),
    (0.5, "en", "30 minutes"), (1 / 60, "en", "1 minute"), (2.46, "zh", "2.5 小时"),
    (2.46, "en", "2.5 hours")])
def test_a_length_of_time_reads_in_the_pages_words(hours, lang, text):
    """The median time to triage and other lengths of time: minutes under an hour, hours
    after, in the page's language (never "h")."""
    from geo_patrol.render.i18n import duration_text

    assert duration_text(hours, lang) == text


@pytest.mark.parametrize(("lang", "name"), [("zh", "隐患（处）"), ("en", "Hazards")])
def test_a_campaigns_chart_names_its_axis_and_unit(lang, name):
    import pandas as pd

    from geo_patrol.render.charts import burn_down_svg

    days = pd.date_range("2026-11-20", periods=4, freq="D")
    svg = burn_down_svg(pd.DataFrame({"day": days, "found": [3, 5, 8, 9], "visited": range(4),
                                      "open": [3, 4, 5, 5]}), lang)
    assert 'class="y-name"' in svg and f">{name}</text>" in svg
    assert ">9</text>" in svg and ">0</text>" in svg  # the axis' top and foot


@pytest.mark.parametrize(("status", "gap", "seconds", "lang", "text"), [
    ("Optimal", 0.0, 12.4, "zh", "已是最佳方案，计算用时 12 秒"),
    ("Optimal", 0.0, 0.3, "en", "The best plan there is · worked out in under a second"),
    ("Time limit reached", 0.0123, 1.0, "en", "The best plan found in the time allowed · at "
     "most 1.23% from the best plan · worked out in a second")])
def test_how_good_a_rota_is_reads_in_plain_words(status, gap, seconds, lang, text):
    """The rota's last figure says how good the plan is without the solver's words; its
    status and MIP gap are left for the hover."""
    from geo_patrol.render.rota import figures_rows, figures_tech

    summary = {"last_period": 0.3, "single_loop_after": 0.4, "rota_after": 0.5, "due_met": 1.0,
               "hazard_met": 1, "hazard_due": 1, "hotspots": 0, "promises_kept": 0,
               "promised": 0, "entropy_bits": 1.0, "start_entropy_bits": 1.0,
               "entropy_max": 2.0, "hours_used": 1.0, "hours_available": 2.0, "walks": 1,
               "unassigned": 0, "status": status, "gap": gap, "seconds": seconds,
               "shortfall_h": 0.0}
    rows, tech = figures_rows(summary, lang), figures_tech(summary, lang)
    assert rows[9][1] == text and "MIP gap" in tech[9] and status in tech[9]
    assert rows[10][1] == {"zh": "0.0 小时", "en": "0.0 hours"}[lang]


@pytest.mark.parametrize(("lang", "text"), [("zh", "处理用时中位数 45 分钟"),
                                            ("en", "median time to triage 45 minutes")])
def test_a_briefings_time_to_triage_reads_in_its_language(lang, text):
    import pandas as pd

    from geo_patrol.render.briefing import report_section
    from geo_patrol.rules import load_rules

    table = pd.DataFrame([{"community": "金桥社区", "category": "gas", "reports": 2,
                           "verified": 1, "rejected": 1, "merged": 0, "pending": 0,
                           "hazards": 1, "triage_h": 0.75}])
    section = report_section({"reports": 2, "share_verified": 0.5, "triage_h": 0.75,
                              "hazards": 1, "table": table}, lang, load_rules())
    assert text in section and " h;" not in section
