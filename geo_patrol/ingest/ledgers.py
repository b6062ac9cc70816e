"""Hazard ledgers, volunteers' reports and police incidents: read and checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from geo_patrol.crs import parse_crs
from geo_patrol.errors import N_, InputError
from geo_patrol.ingest.fixes import check_times, parse_times
from geo_patrol.ingest.points import is_geographic, to_float
from geo_patrol.ingest.problems import Problems
from geo_patrol.ingest.records import (
    PointRecords,
    content_keys,
    read_point_records,
    refuse_formula_cells,
)
from geo_patrol.rules import Rules
from geo_patrol.vocab import HAZARD_STATUSES, REPORT_VERIFICATIONS

HAZARD_COLUMNS = {
    "id": ("hazard_id", "external_id", "编号", "隐患编号", "序号"),
    "name": ("名称", "单位名称", "场所名称", "隐患名称"),
    "category": ("type", "类别", "隐患类别", "类型", "场所类别"),
    "address": ("地址", "详细地址"),
    "status": ("状态", "整改状态", "隐患状态"),
    "status_date": ("date", "checked_at", "日期", "检查日期", "状态日期", "更新时间"),
    "note": ("notes", "备注", "说明", "整改情况"),
    "source": ("来源",),
}
HAZARD_STATUS_ALIASES = {
    "open": ("open", "未整改", "待整改", "整改中", "存在隐患", "新发现", "未清除"),
    "rectified": ("rectified", "已整改", "整改完成"),
    "cleared": ("cleared", "已清除", "已销号", "已取缔", "已关停", "清零"),
}
REPORT_COLUMNS = {
    "id": ("report_id", "external_id", "编号", "上报编号"),
    "volunteer": ("volunteer_number", "number", "义警编号", "上报人编号", "队员编号"),
    "time": ("reported_at", "timestamp", "datetime", "上报时间", "时间"),
    "category": ("type", "类别", "类型", "事项类别"),
    "text": ("description", "content", "内容", "描述", "事项"),
    "verification": ("status", "verified", "核实状态", "审核状态"),
    "reward": ("奖励", "奖励金额", "奖金"),
    "hazard": ("hazard_id", "隐患编号"),
}
VERIFICATION_ALIASES = {
    "pending": ("pending", "", "待核实", "待审核", "未核实"),
    "verified": ("verified", "true", "yes", "已核实", "属实", "通过", "核实"),
    "rejected": ("rejected", "false", "no", "不属实", "驳回", "未通过"),
}
INCIDENT_COLUMNS = {
    "id": ("incident_id", "incidntnum", "case_id", "警情编号", "案件编号"),
    "category": ("type", "offense", "类别", "警情类别", "案由", "案件类别"),
    "date": ("occurred_on", "日期", "发案日期", "报警日期"),
    "time": ("occurred_at", "datetime", "发生时间", "报警时间", "时间"),
    "description": ("descript", "描述", "简要案情"),
}
#: Date parts that spreadsheets and Access use for "no date" in a time-only field.
#: Words in an incident's category that put it in a class (the first class that matches
#: wins; case-insensitive substrings). Anything else is ``other``.
CRIME_CLASS_WORDS = {
    "property": ("盗", "窃", "扒", "抢", "诈骗", "侵财", "theft", "burglary", "larceny",
                 "robbery", "stolen", "shoplift", "fraud", "property"),
    "violence": ("伤害", "殴打", "杀", "强奸", "绑架", "assault", "battery", "homicide",
                 "kidnap", "violence"),
    "dispute": ("纠纷", "矛盾", "dispute"),
    "traffic": ("交通", "事故", "肇事", "traffic", "collision", "dui"),
    "public_order": ("寻衅", "滋事", "斗殴", "赌", "毒", "涉黄", "disorder", "vandal",
                     "drug", "narcotic", "gambling", "prostitution"),
}
_NULL_DATES = ("1899-12-30", "1899/12/30", "1899-12-31", "1899/12/31")


def _aliases_lookup(table: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    return {alias.lower(): key for key, names in table.items() for alias in (key, *names)}


_HAZARD_STATUS = _aliases_lookup(HAZARD_STATUS_ALIASES)
_VERIFICATION = _aliases_lookup(VERIFICATION_ALIASES)


def _lookup(values: pd.Series, table: dict[str, str], what: str, allowed: tuple[str, ...],
            source: str, unit: str) -> np.ndarray:
    keys = values.str.strip().str.lower().map(table)
    bad = keys.isna()
    if bad.any():
        row = values.index[bad.to_numpy()][0]
        msg = f"unknown {what} {values[row]!r}: use one of {', '.join(allowed)}"
        raise InputError(msg, source=source, location=f"{unit} {row}")
    return keys.to_numpy()


@dataclass
class Ledger:
    """Records read from a file, with their coordinates still in the declared CRS."""

    records: PointRecords
    values: pd.DataFrame  # parsed columns, same index as records.frame


def read_hazards(path: Path | str, *, rules: Rules, crs: str | None, tz: str | None = None,
                 mapping: Mapping[str, str] | None = None, encoding: str | None = None,
                 sheet: str | None = None) -> Ledger:
    """A campaign hazard ledger; rows sharing an id are that hazard's status history."""
    source = str(path)
    problems = Problems(source)
    rec = read_point_records(path, HAZARD_COLUMNS, required=("name", "category"), crs=crs,
                             mapping=mapping, encoding=encoding, sheet=sheet,
                             problems=problems)
    problems.unit = rec.unit
    f = rec.frame.reindex(columns=list(HAZARD_COLUMNS), fill_value="")
    refuse_formula_cells(rec, ["name", "address", "note", "id"], source, problems)
    rows = rec.rows
    # every bad value of the sheet is named at once (nothing is stored)
    problems.flag((f["name"] == "").to_numpy(), rows, "name", N_("The name is empty."))
    cats = f["category"].map(rules.category_of)
    names = "、".join(rule.label("zh") for rule in rules.categories.values())
    problems.flag(cats.isna().to_numpy(), rows, "category",
                  N_("“%(value)s” is not a hazard category: use one of %(allowed)s."),
                  lambda i: {"value": f["category"].iloc[i][:40], "allowed": names})
    statuses = f["status"].replace("", "open").str.strip().str.lower().map(_HAZARD_STATUS)
    problems.flag(statuses.isna().to_numpy(), rows, "status",
                  N_("“%(value)s” is not a status: use one of %(allowed)s."),
                  lambda i: {"value": f["status"].iloc[i][:40],
                             "allowed": ", ".join(HAZARD_STATUSES)})
    if rec.unit == "row" and is_geographic(parse_crs(crs or "wgs84")):
        for column, values, bound in (("longitude", rec.x, 180), ("latitude", rec.y, 90)):
            out = np.abs(values) > bound  # NaN (already noted) is not
            problems.flag(out & ~problems.bad(rows), rows, column,
                          N_("%(value)s lies outside -%(bound)s to %(bound)s (are longitude "
                             "and latitude swapped?)."),
                          lambda i, v=values, b=bound: {"value": f"{v[i]:g}", "bound": b})
    problems.raise_if_any()
    status = _lookup(f["status"].replace("", "open"), _HAZARD_STATUS, "status", HAZARD_STATUSES,
                     source, rec.unit)
    dated = f["status_date"] != ""
    at = np.full(len(f), np.iinfo("int64").min)
    if dated.any():
        at[dated.to_numpy()] = parse_times(f.loc[dated, "status_date"], rows[dated.to_numpy()],
                                           tz=tz, source=source, unit=rec.unit)
        check_times(at[dated.to_numpy()], rows[dated.to_numpy()], source=source, unit=rec.unit)
    ids = f["id"].where(f["id"] != "", None)
    auto = content_keys(pd.DataFrame({"c": cats, "n": f["name"], "a": f["address"],
                                      "x": np.round(rec.x, 6), "y": np.round(rec.y, 6)}),
                        "auto:")
    values = pd.DataFrame({
        "external_id": np.where(ids.isna(), auto, ids), "name": f["name"],
        "category": cats.to_numpy(), "address": f["address"].replace("", None),
        "status": status, "status_at": at, "dated": dated.to_numpy(),
        "note": f["note"].replace("", None),
        "source": f["source"].replace("", "campaign")}, index=f.index)
    return Ledger(rec, values)


def read_reports(path: Path | str, *, crs: str | None, tz: str | None = None,
                 mapping: Mapping[str, str] | None = None, encoding: str | None = None,
                 sheet: str | None = None) -> Ledger:
    """Volunteers' reports: who, when, where, category, text, verification, reward. Every
    bad value is named at once (nothing is stored)."""
    source = str(path)
    problems = Problems(source)
    rec = read_point_records(path, REPORT_COLUMNS, required=("volunteer", "time", "category"),
                             crs=crs, mapping=mapping, encoding=encoding, sheet=sheet,
                             problems=problems)
    problems.unit = rec.unit
    f = rec.frame.reindex(columns=list(REPORT_COLUMNS), fill_value="")
    refuse_formula_cells(rec, ["text", "category", "id", "volunteer"], source, problems)
    rows = rec.rows
    problems.flag((f["volunteer"] == "").to_numpy(), rows, "volunteer",
                  N_("The volunteer is empty."))
    t = parse_times(f["time"], rows, tz=tz, source=source, unit=rec.unit, problems=problems)
    check_times(t, rows, source=source, unit=rec.unit, problems=problems, tz=tz)
    verification = f["verification"].str.strip().str.lower().map(_VERIFICATION)
    problems.flag(verification.isna().to_numpy(), rows, "verification",
                  N_("“%(value)s” is not a verification: use one of %(allowed)s."),
                  lambda i: {"value": f["verification"].iloc[i][:40],
                             "allowed": ", ".join(REPORT_VERIFICATIONS)})
    reward = to_float(f["reward"], "reward", rows, source=source, unit=rec.unit, required=False,
                      problems=problems)
    problems.flag(reward < 0, rows, "reward", N_("%(value)s is negative."),
                  lambda i: {"value": f"{reward[i]:g}"})
    problems.raise_if_any()
    verification = verification.to_numpy()
    auto = content_keys(f[["volunteer", "time", "category", "text"]], "auto:")
    values = pd.DataFrame({
        "external_id": np.where(f["id"] == "", auto, f["id"]), "volunteer": f["volunteer"],
        "t": t, "category": f["category"], "text": f["text"].replace("", None),
        "verification": verification, "reward": np.nan_to_num(reward),
        "hazard": f["hazard"].replace("", None)}, index=f.index)
    return Ledger(rec, values)


def crime_class(category: object) -> str:
    """The class (:data:`geo_patrol.vocab.CRIME_CLASSES`) of an incident category."""
    text = str(category or "").casefold()
    for klass, words in CRIME_CLASS_WORDS.items():
        if any(w in text for w in words):
            return klass
    return "other"


def read_incidents(path: Path | str, *, crs: str | None, tz: str | None = None,
                   category: str | None = None, mapping: Mapping[str, str] | None = None,
                   encoding: str | None = None, sheet: str | None = None) -> Ledger:
    """Police incidents with a date, a date and time, or no date at all (a category map).

    A ``time`` column holding only a clock (``HH:MM``) is combined with ``date``; a time
    whose date is spreadsheet day zero (1899-12-30) means the time of day is unknown.
    """
    source = str(path)
    problems = Problems(source)
    rec = read_point_records(path, INCIDENT_COLUMNS, crs=crs, mapping=mapping,
                             encoding=encoding, sheet=sheet, problems=problems)
    problems.unit = rec.unit
    f = rec.frame.reindex(columns=list(INCIDENT_COLUMNS), fill_value="")
    refuse_formula_cells(rec, ["category", "description", "id"], source, problems)
    rows = rec.rows
    if category is None and (f["category"] == "").all():  # the file's, said once
        msg = "category is missing: map a column with --column category=HEADER or pass --category"
        raise InputError(msg, source=source, values={},
                         shown=N_("The file has no category column: name the column that "
                                  "holds it."))
    if category is None:
        problems.flag((f["category"] == "").to_numpy(), rows, "category",
                      N_("The category is empty."))
    cats = f["category"].replace("", category) if category else f["category"]
    time_text = f["time"].where(~f["time"].str.startswith(_NULL_DATES), "")
    clock = time_text.str.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?")
    date_part = f["date"].str.replace("/", "-", regex=False).str.slice(0, 10)
    full = time_text.where(~clock, date_part + " " + time_text)
    has_time = (full != "") & ~(clock & (date_part == ""))
    at = np.full(len(f), np.iinfo("int64").min)
    if has_time.any():
        m = has_time.to_numpy()
        at[m] = parse_times(full[m], rows[m], tz=tz, source=source, unit=rec.unit,
                            problems=problems)
        check_times(at[m], rows[m], source=source, unit=rec.unit, problems=problems,
                    tz=tz)
    on = pd.to_datetime(date_part.where(date_part != ""), errors="coerce", format="mixed")
    problems.flag((on.isna() & (date_part != "")).to_numpy(), rows, "date",
                  N_("“%(value)s” is not a date."), lambda i: {"value": f["date"].iloc[i][:40]})
    problems.flag((on < pd.Timestamp("2000-01-01")).to_numpy(), rows, "date",
                  N_("%(value)s is before 2000."), lambda i: {"value": f["date"].iloc[i][:40]})
    problems.raise_if_any()
    keys = content_keys(pd.DataFrame({"i": f["id"], "c": cats, "d": f["date"], "t": f["time"],
                                      "x": np.round(rec.x, 6), "y": np.round(rec.y, 6)}), "")
    values = pd.DataFrame({
        "external_id": f["id"].replace("", None), "key": keys, "category": cats,
        "occurred_on": on.dt.date.where(on.notna(), None), "occurred_at": at,
        "timed": has_time.to_numpy(), "description": f["description"].replace("", None)},
        index=f.index)
    return Ledger(rec, values)
