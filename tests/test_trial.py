"""Trials of hot-spot patrols: the randomisation test, its interval, the weighted
displacement quotient and the power on small cases worked by hand; on the demo, a trial
stored before it starts and fixed after, its report, the rota following its arms, its CLI
and its page."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from playwright.sync_api import expect

from geo_patrol.analysis import trial as tr
from geo_patrol.cli import cli
from geo_patrol.errors import ConflictError, InputError, NotFoundError
from geo_patrol.services import crime, trials
from geo_patrol.services.rota import make_rota
from geo_patrol.settings import Settings
from geo_patrol.store import trials as trial_store
from geo_patrol.store.areas import find_area
from geo_patrol.store.results import find_run
from tests.browsing import browser, guarded_page, server, shot, sign_in  # noqa: F401
from tests.helpers import make_user


def test_blocks_pair_spots_by_district_and_risk():
    district = np.array([1, 1, 1, 2, 2, 1, 2])
    risk = np.array([0.9, 0.1, 0.5, 0.3, 0.8, 0.7, 0.2])
    blocks = tr.blocks_by_risk(district, risk)
    # district 1 by risk: 0.9, 0.7 | 0.5, 0.1; district 2: 0.8, 0.3, 0.2 (its odd one joins)
    assert blocks.tolist() == [0, 1, 1, 2, 2, 0, 2]
    z = tr.assign(blocks, np.random.default_rng(3))
    for b in (0, 1):
        assert z[blocks == b].sum() == 1
    assert z[blocks == 2].sum() in (1, 2)
    # the same seed draws the same arms
    assert (tr.assign(blocks, np.random.default_rng(3)) == z).all()
    # what districts leave over is pooled by risk: no block of one
    assert tr.blocks_by_risk(np.array([1, 1, 2, 3]), np.array([0.9, 0.8, 0.7, 0.6])
                             ).tolist() == [0, 0, 1, 1]
    assert tr.blocks_by_risk(np.array([1, 2, 3]), np.array([0.9, 0.5, 0.1])).tolist() == \
        [0, 0, 0]


def test_hot_spots_are_taken_hottest_first_and_apart():
    x = np.array([0.0, 100.0, 700.0, 650.0, 0.0, 1300.0])
    y = np.array([0.0, 0.0, 0.0, 0.0, 600.0, 0.0])
    # 1 is within 600 m of 0, 3 within 600 m of 2
    assert tr.spaced(x, y, 5, 600.0).tolist() == [0, 2, 4, 5]
    assert tr.spaced(x, y, 2, 600.0).tolist() == [0, 2]
    assert tr.spaced(x, y, 6, 10.0).tolist() == [0, 1, 2, 3, 4, 5]


def test_effect_is_the_block_weighted_difference():
    y = np.array([1.0, 3.0, 2.0, 6.0, 0.0, 4.0])
    z = np.array([1, 0, 1, 0, 0, 1])
    blocks = np.array([0, 0, 1, 1, 2, 2])
    # per pair: 1-3 = -2, 2-6 = -4, 4-0 = 4; equal weights
    assert tr.effect(y, z, blocks)[0] == pytest.approx(-2 / 3)
    # a block of three (two patrolled): (1+2)/2 - 6 = -4.5, weight 3 of 5; pair: 0-4 = -4
    y3 = np.array([1.0, 2.0, 6.0, 0.0, 4.0])
    z3 = np.array([1, 1, 0, 1, 0])
    assert tr.effect(y3, z3, np.array([0, 0, 0, 1, 1]))[0] == pytest.approx(
        (3 * -4.5 + 2 * -4) / 5)


def test_randomisation_p_value_by_hand():
    # three pairs: 2**3 = 8 assignments; every patrolled spot had fewer incidents
    y = np.array([1.0, 5.0, 2.0, 6.0, 0.0, 4.0])
    z = np.array([1, 0, 1, 0, 1, 0])
    blocks = np.array([0, 0, 1, 1, 2, 2])
    got = tr.randomisation_test(y, z, blocks)
    assert got.exact and got.draws == 8
    assert got.effect == pytest.approx(-4.0)
    # the effects of the 8: ±4 (twice), ±4/3 (six times): 2 of 8 at least as far as -4
    assert got.p_value == pytest.approx(2 / 8)
    assert got.smallest_p == pytest.approx(2 / 8) and not got.can_tell
    assert not got.significant
    # one pair the other way round: effects ±4/3 (this one among six) and ±4 (two)
    flipped = tr.randomisation_test(np.array([5.0, 1.0, 2.0, 6.0, 0.0, 4.0]), z, blocks)
    assert flipped.effect == pytest.approx(-4 / 3)
    assert flipped.p_value == pytest.approx(8 / 8)


def test_randomisation_interval_holds_the_effects_not_rejected():
    # six pairs (64 assignments), each patrolled spot 1 to 5 lower than its pair
    base = np.array([4.0, 7.0, 5.0, 9.0, 6.0, 8.0])
    y = np.ravel(np.column_stack([base - [3, 1, 4, 2, 5, 3], base]))
    z = np.tile([1, 0], 6)
    blocks = np.repeat(np.arange(6), 2)
    got = tr.randomisation_test(y, z, blocks)
    assert got.exact and got.draws == 64
    assert got.p_value == pytest.approx(2 / 64) and got.significant and got.can_tell
    assert got.change == pytest.approx(-3 / base.mean())
    # the interval holds the estimate and not zero; its edges are where the test of the
    # shifted outcomes starts to reject
    assert got.ci[0] < -3 < got.ci[1] < 0
    inside = tr.randomisation_test(y - got.ci[1] * z, z, blocks)
    outside = tr.randomisation_test(y - (got.ci[1] + 0.2) * z, z, blocks)
    assert inside.p_value >= tr.ALPHA > outside.p_value
    # no difference on average: every assignment is at least as far from zero
    assert tr.randomisation_test(y + 3 * z, z, blocks).p_value == pytest.approx(1.0)


def test_monte_carlo_draws_keep_each_blocks_arms():
    blocks = np.repeat(np.arange(20), 2)
    z = np.tile([1, 0], 20)
    perms, exact = tr.assignments(z, blocks, draws=500, seed=1)
    assert not exact and perms.shape == (500, 40)
    assert (perms.reshape(500, 20, 2).sum(axis=2) == 1).all()
    again, _ = tr.assignments(z, blocks, draws=500, seed=1)
    assert (again == perms).all()


def test_weighted_displacement_quotient_by_hand():
    # response 20 -> 10, buffer 30 -> 24, control 40 -> 40:
    # (24/40 - 30/40) / (10/40 - 20/40) = (-0.15) / (-0.25) = 0.6: diffusion of benefits
    assert tr.wdq((20, 10), (30, 24), (40, 40)) == pytest.approx(0.6)
    # the buffer rose 30 -> 36 against a flat control: displacement, -0.6
    assert tr.wdq((20, 10), (30, 36), (40, 40)) == pytest.approx(-0.6)
    # control 50 -> 25: response 20/50 -> 10/25 did not fall relative to it: not read
    assert tr.wdq((20, 10), (30, 24), (50, 25)) is None
    assert tr.wdq((20, 10), (30, 24), (0, 40)) is None


def test_power_grows_with_weeks_and_falls_with_overdispersion():
    rates = np.array([2.0, 1.8, 1.0, 1.1, 0.5, 0.6, 0.3, 0.2])
    blocks = np.repeat(np.arange(4), 2)
    p4 = tr.power(rates, blocks, weeks=4, fall=0.3)
    p26 = tr.power(rates, blocks, weeks=26, fall=0.3)
    assert 0 < p4 < p26 <= 1
    assert tr.power(rates, blocks, weeks=26, fall=0.3, k=2.0) < p26
    needed = tr.weeks_needed(rates, blocks, fall=0.3)
    assert needed is not None
    assert tr.power(rates, blocks, weeks=needed, fall=0.3) >= tr.TARGET_POWER
    assert tr.power(rates, blocks, weeks=needed - 1, fall=0.3) < tr.TARGET_POWER
    # the approximation against simulated trials tested by re-randomisation
    sim = tr.simulated_power(np.repeat(rates, 5), np.repeat(np.arange(20), 2),
                             np.tile([1, 0], 20), weeks=needed, fall=0.3, trials=120,
                             seed=2)
    assert sim > 0.5
    # no effect: found at about the test's level
    null = tr.simulated_power(np.repeat(rates, 5), np.repeat(np.arange(20), 2),
                              np.tile([1, 0], 20), weeks=needed, fall=0.0, trials=200,
                              seed=3)
    assert null <= 0.1


def test_overdispersion_of_weekly_counts():
    poisson = np.random.default_rng(0).poisson(3.0, (50, 12))
    assert tr.overdispersion(poisson) > 20 or not np.isfinite(tr.overdispersion(poisson))
    rng = np.random.default_rng(1)
    lam = rng.gamma(1.0, 3.0, (50, 12))
    assert 0.5 < tr.overdispersion(rng.poisson(lam)) < 2.0


# --- on the demo ----------------------------------------------------------------------

DEMO_DAY = dt.date(2026, 11, 28)
#: A trial of the four weeks up to the demo's last incidents, designed the day before them.
DESIGNED_ON = dt.date(2026, 10, 30)


def _on(monkeypatch: pytest.MonkeyPatch, day: dt.date) -> None:
    monkeypatch.setattr(Settings, "today", lambda self, now=None: day)


@pytest.fixture(scope="module")
def city_area(demo_world):
    """The whole city (a trial's area when none is chosen)."""
    return None


@pytest.fixture(scope="module")
def stored_trial(demo_world, city_area):
    """A trial of 12 hot spots over the city from the day after DESIGNED_ON, four weeks."""
    engine, settings = demo_world["engine"], demo_world["settings"]
    with pytest.MonkeyPatch.context() as mp:
        _on(mp, DESIGNED_ON)
        trial_id, design = trials.create(engine, settings, by="planner-t", area_id=city_area,
                                         start=None, weeks=4, spots=12, fall=0.3, seed=5)
    return {"id": trial_id, "design": design}


def test_a_trial_is_drawn_by_block_and_fixed_once_it_starts(demo_world, stored_trial):
    engine, settings = demo_world["engine"], demo_world["settings"]
    trial_id, design = stored_trial["id"], stored_trial["design"]
    spots = design.spots
    assert design.start == DESIGNED_ON + dt.timedelta(days=1) and design.weeks == 4
    assert len(spots) == 12 and spots["segment_id"].is_unique
    xy = spots[["x", "y"]].to_numpy()
    gaps = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    assert gaps[~np.eye(len(xy), dtype=bool)].min() >= trials.SPACING_M
    # every block has both arms; the same seed draws the same arms again
    arms = spots.groupby("block")["arm"].nunique()
    assert (arms == 2).all()
    with pytest.MonkeyPatch.context() as mp:
        _on(mp, DESIGNED_ON)
        again, twice = (trials.design(engine, settings, area_id=design.area["id"], start=None,
                                      weeks=4, spots=12, fall=0.3, seed=5) for _ in range(2))
    assert again.spots[["segment_id", "arm"]].equals(twice.spots[["segment_id", "arm"]])
    # the stored trial's spots are taken for its weeks: another trial draws others
    assert not set(again.spots["segment_id"]) & set(spots["segment_id"])
    assert 0 < design.power < 1
    assert design.weeks_needed is None or design.weeks_needed > design.weeks
    with engine.connect() as conn:
        stored = conn.execute(sa.text(
            "SELECT segment_id, arm FROM trial_spots WHERE trial_id = :t ORDER BY segment_id"),
            {"t": trial_id}).all()
        logged = conn.execute(sa.text(
            "SELECT details FROM audit_log WHERE action = 'trial_create' AND target = :t"),
            {"t": f"trial {trial_id}"}).scalar_one()
    assert dict(stored) == dict(zip(spots["segment_id"], spots["arm"]))
    assert logged["spots"] == 12 and logged["outcome"] == trials.OUTCOME
    # it has started (its first day is past): the database refuses any change
    victim = int(spots["segment_id"].iloc[0])
    for sql in ("UPDATE trial_spots SET arm = CASE arm WHEN 'patrolled' THEN 'control' "
                "ELSE 'patrolled' END WHERE trial_id = :t AND segment_id = :s",
                "DELETE FROM trial_spots WHERE trial_id = :t AND segment_id = :s",
                "UPDATE trials SET weeks = 8 WHERE id = :t",
                "UPDATE trials SET outcome = 'arrests' WHERE id = :t",
                "INSERT INTO trial_spots (trial_id, segment_id, block, arm, risk, weekly) "
                "VALUES (:t, :s + 100000, 0, 'control', 0, 0)"):
        with pytest.raises(sa.exc.DBAPIError, match="fixed once stored|has started"):
            with engine.begin() as conn:
                conn.execute(sa.text(sql), {"t": trial_id, "s": victim})
    with pytest.raises(ConflictError, match="has started"):
        trials.withdraw(engine, settings, trial_id, by="planner-t")
    with engine.connect() as conn:
        refused = conn.execute(sa.text(
            "SELECT count(*) FROM audit_log WHERE action = 'trial_change_refused' "
            "AND target = :t"), {"t": f"trial {trial_id}"}).scalar_one()
        kept = conn.execute(sa.text(
            "SELECT arm FROM trial_spots WHERE trial_id = :t AND segment_id = :s"),
            {"t": trial_id, "s": victim}).scalar_one()
    assert refused == 1 and kept == dict(stored)[victim]
    # a trial that lies ahead may be withdrawn (logged); one may not start today or before
    ahead, _ = trials.create(engine, settings, by="planner-t", area_id=design.area["id"],
                             start=settings.today() + dt.timedelta(days=30), weeks=2,
                             spots=6, fall=0.3, seed=1)
    trials.withdraw(engine, settings, ahead, by="planner-t")
    with pytest.raises(NotFoundError):
        trials.report(engine, settings, ahead)
    with pytest.raises(InputError, match="starts after today"):
        trials.design(engine, settings, area_id=design.area["id"], start=settings.today(),
                      weeks=2, spots=6, fall=0.3, seed=1)


def test_the_report_counts_the_outcome_and_tests_it_within_blocks(demo_world,
                                                                  stored_trial):
    engine, settings = demo_world["engine"], demo_world["settings"]
    trial_id, design = stored_trial["id"], stored_trial["design"]
    interim = trials.report(engine, settings, trial_id, today=design.start +
                            dt.timedelta(days=6))
    assert interim.interim and interim.days == 7
    early = trials.report(engine, settings, trial_id, today=DESIGNED_ON)
    assert early.until is None and early.verdict == "not_started"
    got = trials.report(engine, settings, trial_id, today=DEMO_DAY)
    assert not got.interim and got.until == design.end and got.days == 28
    # the outcome: property incidents on each hot spot's segment in the trial's days
    data = crime.load(engine, settings, crime.Study(until=design.end, days=56))
    dated = data.dated
    on = data.on_segment[data.incidents["day"].notna().to_numpy()]
    ids = data.segments["id"].to_numpy()
    inside = np.array([design.start <= d <= design.end for d in dated["day"]])
    seg_of = np.where(on >= 0, ids[np.maximum(on, 0)], -1)
    for row in got.spots.itertuples():
        assert row.after == int(((seg_of == row.segment_id) & inside).sum())
    # the test re-randomises within the blocks: recomputed here from the same counts
    z = (got.spots["arm"] == "patrolled").to_numpy().astype(int)
    again = tr.randomisation_test(got.spots["after"].to_numpy(float), z,
                                  got.spots["block"].to_numpy(), draws=trials.DRAWS,
                                  seed=design.seed)
    assert got.inference.p_value == pytest.approx(again.p_value)
    assert got.inference.ci[0] <= got.inference.effect <= got.inference.ci[1]
    assert got.verdict in ("cannot_tell", "fell", "rose", "too_small")
    d = got.dose
    assert d["patrolled"]["after"] + d["control"]["after"] == got.spots["after"].sum()
    # the rings: the quotient of the arms' counts and the ring's, or None when not readable
    for ring in got.rings.itertuples():
        assert ring.wdq == tr.wdq((d["patrolled"]["before"], d["patrolled"]["after"]),
                                  (ring.before, ring.after),
                                  (d["control"]["before"], d["control"]["after"]))
    assert got.rings["segments"].sum() > 0
    # the demo's volunteers never followed this trial: said, not hidden
    assert not got.delivered

    env = {"DATABASE_URL": demo_world["url"], "GEO_PATROL_DATA_DIR": str(demo_world["root"]),
           "GEO_PATROL_METRIC_CRS": ""}
    out = CliRunner(env=env).invoke(cli, ["evidence", "trial", "report", "--trial",
                                          str(trial_id), "--today", str(DEMO_DAY)])
    assert out.exit_code == 0, out.output
    assert "final report" in out.output and "did not happen as designed" in out.output
    assert f"{got.inference.ci[0]:+.2f} to {got.inference.ci[1]:+.2f}" in out.output
    dry = CliRunner(env=env).invoke(cli, ["evidence", "trial", "create", "--spots", "8",
                                          "--weeks", "6", "--fall", "0.25", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    design = trials.design(engine, settings, area_id=None, start=None, weeks=6, spots=8,
                           fall=0.25, seed=0)
    assert f"power to find a fall of 25% in 6 weeks: {100 * design.power:.0f}%" in dry.output
    assert "8 hot spots of the whole city" in dry.output
    before = len(trials.listing(engine))
    assert len(trials.listing(engine)) == before  # nothing stored by a dry run
    past = CliRunner(env=env).invoke(cli, ["evidence", "trial", "create", "--start",
                                           str(settings.today())])
    assert past.exit_code != 0 and "starts after today" in past.output
    # the CLI asks before withdrawing, and keeps a trial that has started
    kept = CliRunner(env=env).invoke(cli, ["evidence", "trial", "withdraw", "--trial",
                                           str(trial_id)], input="n\n")
    assert kept.exit_code != 0 and "Withdraw the trial?" in kept.output
    refused = CliRunner(env=env).invoke(cli, ["evidence", "trial", "withdraw", "--trial",
                                              str(trial_id), "--yes"])
    assert refused.exit_code != 0 and "has started" in refused.output
    assert trial_id in set(trials.listing(engine)["id"])


def test_a_running_trial_keeps_the_rota_off_its_control_spots(demo_world, stored_trial):
    engine = demo_world["engine"]
    design = stored_trial["design"]
    spots = design.spots
    with engine.connect() as conn:
        running = trial_store.running_spots(conn, design.start + dt.timedelta(days=3),
                                            design.start + dt.timedelta(days=9))
        after = trial_store.running_spots(conn, design.end + dt.timedelta(days=1),
                                          design.end + dt.timedelta(days=7))
    assert set(running["segment_id"]) == set(spots["segment_id"]) and after.empty
    patrolled = set(spots.loc[spots["arm"] == "patrolled", "segment_id"])
    control = set(spots.loc[spots["arm"] == "control", "segment_id"])
    area = set(spots["segment_id"]) | {1, 2, 3}
    hot, following = trials.patrolled_only(running, area, np.array(sorted(control)))
    assert set(hot) == patrolled and following == [stored_trial["id"]]
    # an area without the trial's spots: its own hot spots, less any control spot
    mine = np.array([*sorted(control)[:2], 999999])
    hot, following = trials.patrolled_only(running, {999999}, mine)
    assert list(hot) == [999999] and following == []
    # a rota of the district in the trial's weeks posts at its patrolled spots only
    district = int(spots["district_id"].mode().iloc[0])
    with engine.connect() as conn:
        run = find_run(conn, demo_world["run"].run_id)
        plan = make_rota(conn, demo_world["settings"], run, find_area(conn, district),
                         start=design.start + dt.timedelta(days=7), days=1, revisit_days=1,
                         per_community=1, time_limit=2, draws=5)
    posted = {w.hotspot_segment_id for w in plan.walks if w.hotspot_segment_id is not None}
    mine = set(spots.loc[spots["district_id"] == district, "segment_id"])
    assert plan.hotspots == len(mine & patrolled) and not posted & control
    assert posted <= patrolled and plan.forecast["trials"] == [stored_trial["id"]]


PAGE = {
    "zh": {"title": "巡防成效", "check": "先看能否测出效果", "store": "保存试验（保存后不可更改）",
           "power": "的把握", "final": "最终报告", "patrolled": "巡逻组", "control": "对照组",
           "designing": "正在按存储的预测设计试验",
           "counting": "正在统计试验的警情和巡逻时长",
           "not_delivered": "巡逻没有按设计进行", "stats": "统计依据",
           "wdq": "是否转移到周边街道", "interim": "中期报告", "too_small": "规模太小，无法判断"},
    "en": {"title": "Patrol evidence", "check": "See what it could find",
           "store": "Store the trial (it cannot be changed after)", "power": "with a chance of",
           "final": "Final report", "patrolled": "patrolled", "control": "control",
           "designing": "Designing the trial on the stored forecast",
           "counting": "Counting the trial’s incidents and patrol time",
           "not_delivered": "The patrols did not happen as designed", "stats":
           "The statistics behind it", "wdq": "Did it move to the streets around?",
           "interim": "Interim report", "too_small": "Too small to tell"},
}


def _trial_jobs(engine, user: str) -> list[tuple[str, str]]:  # noqa: ANN001
    """The trial designs ``user`` asked for, oldest first: (action, state) (not the reports
    their pages read)."""
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT params->>'action', state FROM jobs WHERE kind = 'trial' "
            "AND requested_by = :u AND params->>'action' <> 'report' ORDER BY id"),
            {"u": user})]


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_evidence_page_creates_a_trial_and_reports_it(browser, server, demo_world,  # noqa: F811
                                                      city_area, monkeypatch, lang):
    engine, settings = demo_world["engine"], demo_world["settings"]
    w = PAGE[lang]
    user = f"trial-planner-{lang}"
    make_user(engine, user, "planner")
    _on(monkeypatch, DESIGNED_ON)
    with guarded_page(browser, (1440, 900)) as page:
        sign_in(page, server, user)
        page.goto(f"{server}/lang/{lang}?next=/evidence", wait_until="networkidle")
        assert page.title() == f"{w['title']} · geo-patrol"
        form = page.locator("#trial-form")
        form.locator("select[name=area]").select_option("")
        form.locator("input[name=weeks]").fill("4")
        form.locator("input[name=spots]").fill("10")
        form.locator("input[name=fall]").fill("30")
        form.locator("input[name=seed]").fill("11" if lang == "zh" else "12")
        # the design the page should show (which warms the forecasts the page reads too)
        seed = 11 if lang == "zh" else 12
        expected = trials.design(engine, settings, area_id=city_area, start=None, weeks=4,
                                 spots=10, fall=0.3, seed=seed)
        jobs_before = _trial_jobs(engine, user)
        form.get_by_role("button", name=w["check"]).click()
        # designed as a job off the web threads: the page follows its progress, then shows
        # the design (the first design reads the forecast of the city's stored study)
        page.wait_for_url("**trial_job=*")
        shown = page.locator("#trial-job, #trial-design").first
        expect(shown).to_be_visible()
        if page.locator("#trial-job").count():
            assert w["designing"] in page.locator("#trial-job").inner_text()
            assert page.locator("#trial-job progress").count() == 1
            shot(page, f"evidence-trial-designing-{lang}")
        expect(page.locator("#design-power")).to_be_visible(timeout=120_000)
        assert _trial_jobs(engine, user) == jobs_before + [("preview", "done")]
        # the form keeps what was asked
        assert form.locator("input[name=seed]").input_value() == str(seed)
        assert form.locator("input[name=weeks]").input_value() == "4"
        # the power is shown before anything is stored
        power = page.locator("#design-power").inner_text()
        assert w["power"] in power and f"{100 * expected.power:.0f}%" in power
        rows = page.locator("#design-table tbody tr")
        assert rows.count() == 10
        patrolled = sum(w["patrolled"] in rows.nth(i).inner_text() for i in range(10))
        assert patrolled == int((expected.spots["arm"] == "patrolled").sum())
        before = len(trials.listing(engine))
        page.locator("#trial-form").get_by_role("button", name=w["store"]).click()
        page.wait_for_url("**trial=*", timeout=120_000)
        page.wait_for_load_state("networkidle")
        assert _trial_jobs(engine, user)[-1] == ("create", "done")
        stored = trials.listing(engine)
        assert len(stored) == before + 1
        trial_id = int(stored["id"].iloc[0])
        assert f"trial={trial_id}" in page.url
        # the clock moves on to the demo's last day: the trial is over, its report final
        # counted as a job off the web threads: the page follows its progress, then shows
        # the report it stored; the reload joins that job, and the next visit reads it
        _on(monkeypatch, DEMO_DAY)
        page.goto(f"{server}/evidence?trial={trial_id}", wait_until="domcontentloaded")
        box = page.locator("#trial-report-job")
        assert w["counting"] in box.inner_text() and box.locator("progress").count() == 1
        shot(page, f"evidence-trial-counting-{lang}")
        expect(page.locator("#trial-state")).to_be_visible(timeout=120_000)
        page.wait_for_load_state("networkidle")
        page.goto(f"{server}/evidence?trial={trial_id}", wait_until="networkidle")
        assert page.locator("#trial-report-job").count() == 0
        with engine.connect() as conn:
            made = conn.execute(sa.text(
                "SELECT state FROM jobs WHERE kind = 'trial' AND params->>'action' = 'report' "
                "AND params->>'trial' = :t AND params->>'today' = :d"),
                {"t": str(trial_id), "d": DEMO_DAY.isoformat()}).scalars().all()
        assert made == ["done"]
        got = trials.report(engine, settings, trial_id)
        assert w["final"] in page.locator("#trial-state").inner_text()
        assert str(expected.end) in page.locator("#trial-state").inner_text()
        # ten hot spots in five pairs: 2 of 32 draws as extreme at best, p >= 0.0625 — the
        # page says the trial cannot tell, whatever the counts
        assert got.verdict == "too_small" and got.inference.smallest_p == pytest.approx(2 / 32)
        verdict = page.locator("#trial-verdict").inner_text()
        assert w["too_small"] in verdict and "0.06" in verdict and "p-value" not in verdict \
            and "p 值" not in verdict
        assert w["not_delivered"] in page.locator("#trial-dose").inner_text()
        spots = page.locator("#trial-spots tbody tr")
        assert spots.count() == 10
        # each hot spot by its own name (segments of one stretch told apart)
        names = [spots.nth(i).locator("td").first.inner_text() for i in range(10)]
        assert len(set(names)) == 10
        answer = page.request.get(f"{server}/api/evidence/trial?trial={trial_id}").json()
        assert answer["verdict"] == got.verdict and answer["p_value"] == round(
            got.inference.p_value, 4)
        details = page.locator("#trial-details")
        assert not details.evaluate("d => d.open")
        details.locator("summary").click()
        stats = page.locator("#trial-stats").inner_text()
        inf = got.inference
        assert f"{inf.ci[0]:+.2f}" in stats and f"{inf.ci[1]:+.2f}" in stats
        assert w["wdq"] in details.inner_text()
        shot(page, f"evidence-trial-{lang}")
        # an interim look while it ran
        _on(monkeypatch, expected.start + dt.timedelta(days=13))
        page.goto(f"{server}/evidence?trial={trial_id}", wait_until="networkidle")
        expect(page.locator("#trial-state")).to_be_visible(timeout=120_000)
        assert w["interim"] in page.locator("#trial-state").inner_text()


WITHDRAW = {
    "zh": {"button": "撤回此试验", "ask": "撤回试验 {id}？", "done": "试验 {id} 已在开始前撤回",
           "refused": "试验 {id} 已于 {start} 开始"},
    "en": {"button": "Withdraw this trial", "ask": "Withdraw trial {id}?",
           "done": "Trial {id} was withdrawn before it started",
           "refused": "Trial {id} started on {start}"},
}


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_trial_not_yet_started_is_withdrawn_from_its_page(browser, server,  # noqa: F811
                                                            demo_world, monkeypatch, lang):
    """The planner withdraws a trial that lies ahead, after saying yes to the question; one
    whose first day has come while the page was open is refused and kept."""
    engine, settings = demo_world["engine"], demo_world["settings"]
    w = WITHDRAW[lang]
    user = f"trial-withdraw-{lang}"
    make_user(engine, user, "planner")
    _on(monkeypatch, DESIGNED_ON)
    # ahead of the page's day and of the database's clock (it refuses removing a started one)
    start = dt.date.today() + dt.timedelta(days=60 if lang == "zh" else 90)
    ahead, _ = trials.create(engine, settings, by="planner-t", area_id=None, start=start,
                             weeks=2, spots=6, fall=0.3, seed=21)
    # after the first's two weeks: the hot spots it holds are free again
    late_start = start + dt.timedelta(days=14)
    late, _ = trials.create(engine, settings, by="planner-t", area_id=None, start=late_start,
                            weeks=2, spots=6, fall=0.3, seed=22)

    def logged(action: str, trial_id: int) -> int:
        with engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT count(*) FROM audit_log WHERE action = :a AND target = :t "
                "AND actor = :u"), {"a": action, "t": f"trial {trial_id}", "u": user}
            ).scalar_one()

    with guarded_page(browser, (1440, 900)) as page:
        sign_in(page, server, user)
        page.goto(f"{server}/lang/{lang}?next=/evidence%3Ftrial%3D{ahead}",
                  wait_until="networkidle")
        button = page.locator("#trial-withdraw").get_by_role("button", name=w["button"])
        assert button.is_visible()
        asked: list[str] = []
        # saying no leaves the trial as it was
        page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
        button.click()
        page.wait_for_timeout(300)
        assert asked and asked[0].startswith(w["ask"].format(id=ahead))
        assert ahead in set(trials.listing(engine)["id"])
        page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
        button.click()
        page.wait_for_load_state("networkidle")
        assert w["done"].format(id=ahead) in page.locator("#trial-withdrawn").inner_text()
        assert ahead not in set(trials.listing(engine)["id"])
        assert logged("trial_withdraw", ahead) == 1
        shot(page, f"evidence-trial-withdrawn-{lang}")
        # the page was opened before the trial's first day; the click comes after it
        page.goto(f"{server}/evidence?trial={late}", wait_until="networkidle")
        _on(monkeypatch, late_start)
        page.once("dialog", lambda d: d.accept())
        page.locator("#trial-withdraw").get_by_role("button", name=w["button"]).click()
        page.wait_for_load_state("networkidle")
        error = page.locator("#form-error").inner_text()
        assert w["refused"].format(id=late, start=late_start.isoformat()) in error
        assert late in set(trials.listing(engine)["id"])
        assert logged("trial_change_refused", late) == 1 and logged("trial_withdraw", late) == 0
        assert page.locator("#trial-withdraw").count() == 0  # it has started: no button
        shot(page, f"evidence-trial-refused-{lang}")
    with pytest.raises(ConflictError):
        trials.withdraw(engine, settings, late, by=user)
