"""``geo-patrol evidence``: which forecast the rota's hot spots come from and why, and the
patrol dose a rota's hot spots received against its plan."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from geo_patrol.analysis.trial import TARGET_POWER
from geo_patrol.cli import (Group, cli, day_value, engine_of, settings_of, stored_id,
                            up_to_day_report, write_table)

if TYPE_CHECKING:
    from geo_patrol.services.trials import Design, Report

METHODS = {"sepp": "the self-exciting forecast", "gi_star": "Gi* hot spots",
           "kde": "kernel density", "last_period": "last period's incidents"}


@cli.group(cls=Group)
def evidence() -> None:
    """Evidence: the forecast behind the hot spots, and the patrol dose delivered."""


@evidence.command("forecast")
@click.pass_context
def forecast_cmd(ctx: click.Context) -> None:
    """The forecast the city's rolling evaluation favours for the rota's hot spots, and
    why (``geo-patrol crime evaluate`` for the whole table)."""
    from geo_patrol.services import evidence as service

    f = service.forecast_choice(engine_of(ctx), settings_of(ctx))
    if f.get("why_not"):
        click.echo(f"the rota's hot spots come from Gi* hot spots: {f['why_not']}")
    elif f["beats_random"]:
        click.echo(f"the rota's hot spots come from {METHODS[f['method']]}: on the "
                   f"{f['weeks']} held-out weeks its hottest 5% of the street length caught "
                   f"{f['pai']:.1f}× their share of incidents (next best "
                   f"{METHODS.get(f['runner_up'], f['runner_up'])} {f['runner_up_pai']:.1f}×, "
                   f"random {f['random_pai']:.1f}×)")
    else:
        click.echo("no forecast beats a random choice on the held-out weeks: the rota's hot "
                   "spots are the Gi* hot spots of the past")


@evidence.command("dose")
@up_to_day_report("rota", "Measure",
                  "Write the table per hot spot and week as CSV (UTF-8 with BOM) instead.")
def dose_cmd(ctx: click.Context, rota_id: int, today: str | None,
             csv_path: Path | None) -> None:
    """Minutes of presence at the rota's hot spots (stays of the city's stay rule, from
    volunteers' clean fixes) against its plan and Koper's 10–15-minute stop, per hot spot
    and week."""
    from geo_patrol.analysis.dose import KOPER_MIN
    from geo_patrol.services import evidence as service

    got = service.dose(engine_of(ctx), settings_of(ctx), rota_id,
                       today=day_value(today, "--today"))
    table = got.table()
    if write_table(table, csv_path):
        return
    t = got.totals()
    r = got.rota
    click.echo(f"rota {rota_id} ({r['area']}, from {r['start_day']}, {r['days']} days), "
               f"measured up to {got.until}; hot spots from "
               f"{METHODS.get(got.forecast.get('method'), got.forecast.get('method'))}")
    if got.share is None:
        click.echo("no hot-spot stop is planned up to that day yet")
    else:
        click.echo(f"delivered {t['delivered_min']:.0f} of {t['planned_min']:.0f} planned "
                   f"minutes ({100 * got.share:.0f}%) at {len(got.places)} hot spots; "
                   f"{t['cells_met']} of {t['cells_planned']} planned stops met in full")
    click.echo(f"stays (≥ {got.stay_min:g} min within {got.radius_m:g} m): {t['stays']}, "
               f"{t['koper_stays']} of Koper's {KOPER_MIN[0]:g}–{KOPER_MIN[1]:g} minutes; "
               f"{t['minutes']:.0f} minutes of presence in all")
    click.echo(f"{'week':<10} {'street':<28} {'planned':>7} {'present':>7} {'delivered':>9} "
               f"{'share':>6}")
    for row in table.itertuples():
        name = " / ".join(str(v) for v in (row.street, row.cross_a, row.cross_b)
                          if isinstance(v, str) and v) or f"segment {row.segment_id}"
        share = "-" if row.share != row.share else f"{100 * row.share:.0f}%"
        click.echo(f"{row.week!s:<10} {name[:28]:<28} {row.planned_min:>7.0f} "
                   f"{row.minutes:>7.0f} {row.delivered_min:>9.0f} {share:>6}")


@evidence.group("trial", cls=Group)
def trial() -> None:
    """A randomised trial of hot-spot patrols: design and store it, then read its report."""


def weeks_text(n: int) -> str:
    """"1 week", "8 weeks"."""
    return f"{n} week" if n == 1 else f"{n} weeks"


def _design_lines(d: Design) -> list[str]:
    spots = d.spots
    patrolled = int((spots["arm"] == "patrolled").sum())
    lines = [f"{len(spots)} hot spots of {d.area['name'] or 'the whole city'} by "
             f"{METHODS.get(d.forecast['method'], d.forecast['method'])}, "
             f"{spots['block'].nunique()} blocks by district and risk: {patrolled} patrolled, "
             f"{len(spots) - patrolled} control (seed {d.seed})",
             f"from {d.start} for {weeks_text(d.weeks)} (to {d.end}); outcome fixed now: "
             "property incidents per hot spot",
             f"power to find a fall of {100 * d.fall:.0f}% in {weeks_text(d.weeks)}: "
             f"{100 * d.power:.0f}%"]
    needed = d.weeks_needed
    if not d.can_tell:
        lines.append(f"too few hot spots: even the clearest result could be chance "
                     f"(the least p-value this design can give is {d.smallest_p:.2f})")
    elif needed is None:
        lines.append(f"no duration up to two years reaches {100 * TARGET_POWER:.0f}% power: "
                     "add hot spots or look for a larger fall")
    else:
        lines.append(f"weeks needed for {100 * TARGET_POWER:.0f}% power: {needed}")
    return lines


@trial.command("create")
@click.option("--area", "area", default=None,
              help="A district (id or name); the whole city when not given.")
@click.option("--start", default=None, help="The first day (YYYY-MM-DD); tomorrow by default.")
@click.option("--weeks", type=int, default=8, show_default=True)
@click.option("--spots", type=int, default=20, show_default=True,
              help="Hot spots in the trial (half patrolled).")
@click.option("--fall", type=float, default=0.2, show_default=True,
              help="The fall in incidents to detect (0.2: a fifth).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--dry-run", is_flag=True, help="Show the design and its power; store nothing.")
@click.pass_context
def trial_create(ctx: click.Context, area: str | None, start: str | None, weeks: int, spots: int,
                 fall: float, seed: int, dry_run: bool) -> None:
    """Design a trial and store it before it starts: from then on its assignment, outcome,
    start and weeks cannot be changed."""
    from geo_patrol.services import trials as service

    options = {"area_id": area, "start": day_value(start, "--start"), "weeks": weeks,
               "spots": spots, "fall": fall, "seed": seed}
    if dry_run:
        got = service.design(engine_of(ctx), settings_of(ctx), **options)
        for line in _design_lines(got):
            click.echo(line)
        return
    trial_id, got = service.create(engine_of(ctx), settings_of(ctx), by="cli", **options)
    click.echo(f"trial {trial_id} stored")
    for line in _design_lines(got):
        click.echo(line)


@trial.command("withdraw")
@stored_id("trial")
@click.confirmation_option(prompt="Withdraw the trial? Its hot spots and arms are removed "
                                  "for good")
@click.pass_context
def trial_withdraw(ctx: click.Context, trial_id: int) -> None:
    """Withdraw a trial that has not started (audit-logged); a started one is kept."""
    from geo_patrol.services import trials as service

    service.withdraw(engine_of(ctx), settings_of(ctx), trial_id, by="cli")
    click.echo(f"trial {trial_id} withdrawn")


@trial.command("report")
@up_to_day_report("trial", "Report", "Write the table per hot spot as CSV (UTF-8 with BOM) instead.")
def trial_report(ctx: click.Context, trial_id: int, today: str | None,
                 csv_path: Path | None) -> None:
    """The trial's report: the dose each arm received, the change in incidents with its
    randomisation p-value and interval, and the streets around (interim before its end)."""
    from geo_patrol.services import trials as service

    got = service.report(engine_of(ctx), settings_of(ctx), trial_id,
                         today=day_value(today, "--today"))
    cols = ["segment_id", "street", "cross_a", "cross_b", "block", "arm", "before", "after",
            "minutes", "stays"]
    if got.until is not None and write_table(got.spots[cols], csv_path):
        return
    for line in report_lines(got):
        click.echo(line)


def report_lines(got: Report) -> list[str]:
    """The report in plain words, then its figures (English)."""
    t = got.trial
    head = (f"trial {t['id']} ({t['area'] or 'the whole city'}, from {t['start_day']}, "
            f"{weeks_text(int(t['weeks']))})")
    if got.until is None:
        return [f"{head}: starts on {t['start_day']}; nothing to report yet"]
    inf, dose = got.inference, got.dose
    lines = [f"{head}: {'interim report' if got.interim else 'final report'} up to "
             f"{got.until}"]
    p, c = dose["patrolled"], dose["control"]
    lines.append(f"patrol time: {p['per_spot_week']:.0f} min per patrolled hot spot a week, "
                 f"{c['per_spot_week']:.0f} at a control one"
                 + ("" if got.delivered else
                    " — the patrols did not happen as designed: the trial cannot test them"))
    verdict = got.verdict
    change = "" if inf.change is None else f" ({100 * inf.change:+.0f}%)"
    if verdict == "too_small":
        lines.append(f"too small to tell: with {len(got.spots)} hot spots even the clearest "
                     f"result could be chance (least possible p {inf.smallest_p:.2f})")
    elif verdict == "cannot_tell":
        lines.append(f"cannot tell: {p['after']} incidents at patrolled hot spots, "
                     f"{c['after']} at control ones{change} is within what chance gives "
                     f"(p = {inf.p_value:.2f})")
    else:
        lines.append(f"incidents {'fell' if verdict == 'fell' else 'rose'} at the patrolled "
                     f"hot spots{change}: {p['after']} against {c['after']} (p = "
                     f"{inf.p_value:.3f})")
    lines.append(f"effect {inf.effect:+.2f} incidents per hot spot, 95% interval "
                 f"{inf.ci[0]:+.2f} to {inf.ci[1]:+.2f}; {inf.draws} "
                 f"{'assignments (all)' if inf.exact else 're-randomisations'} within blocks")
    for r in got.rings.itertuples():
        wdq = "not read (no fall to weigh against)" if r.wdq is None else f"{r.wdq:+.2f}"
        lines.append(f"streets {r.from_m:.0f}–{r.to_m:.0f} m around: {r.before} incidents "
                     f"before, {r.after} during; weighted displacement quotient {wdq}")
    return lines
