"""Availability sheets (可巡逻时段表): the volunteer-hours a community can give per weekday and
time slot, as a community's organiser reports them; CSV or XLSX, Chinese or English headers,
checked row by row. Each row replaces what the patrols show for its community, weekday and
slot (see :mod:`geo_patrol.planning.force`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from geo_patrol.errors import N_
from geo_patrol.ingest.tables import read_text_records

COLUMNS = {
    "community": ("社区", "社区名称", "所属社区"),
    "weekday": ("day", "星期", "周几", "日期类型"),
    "slot": ("time_slot", "时段", "巡逻时段", "可巡逻时段"),
    "hours": ("volunteer_hours", "工时", "志愿者工时", "可用工时", "小时", "小时数"),
}
REQUIRED = ("community", "weekday", "slot", "hours")

_DAYS = {
    **{k: (i,) for i, names in enumerate((
        ("mon", "monday", "周一", "星期一", "礼拜一", "1"),
        ("tue", "tuesday", "周二", "星期二", "礼拜二", "2"),
        ("wed", "wednesday", "周三", "星期三", "礼拜三", "3"),
        ("thu", "thursday", "周四", "星期四", "礼拜四", "4"),
        ("fri", "friday", "周五", "星期五", "礼拜五", "5"),
        ("sat", "saturday", "周六", "星期六", "礼拜六", "6"),
        ("sun", "sunday", "周日", "周天", "星期日", "星期天", "礼拜天", "7")))
       for k in names},
    **dict.fromkeys(("daily", "every day", "每天", "每日", "天天"), tuple(range(7))),
    **dict.fromkeys(("weekdays", "workdays", "工作日", "周一至周五"), tuple(range(5))),
    **dict.fromkeys(("weekend", "周末", "双休日"), (5, 6)),
}
_SLOTS = {
    **dict.fromkeys(("morning", "早间", "早上", "上午", "早晨"), "morning"),
    **dict.fromkeys(("midday", "午间", "中午"), "midday"),
    **dict.fromkeys(("afternoon", "下午"), "afternoon"),
    **dict.fromkeys(("evening", "晚间", "晚上", "傍晚", "夜间"), "evening"),
}


def read_availability(path: Path | str, *, mapping: dict[str, str] | None = None,
                      encoding: str | None = None, sheet: str | None = None) -> pd.DataFrame:
    """Read and check an availability sheet: ``community, weekday, slot, hours`` per weekday
    (a row for 每天, 工作日 or 周末 stands for each of its days). Any bad row raises an
    :class:`InputError` naming it; the same community, weekday and slot twice is refused."""
    records = read_text_records(path, COLUMNS, required=REQUIRED, what="the availability sheet",
                              mapping=mapping, encoding=encoding, sheet=sheet,
                              text_columns=["community"])

    out = []
    for row, rec in records:  # a sheet is a few hundred rows: per-row checks
        before = len(records.problems.found)
        if not rec["community"]:
            records.fail(row, "community", N_("The community is empty."))
        days = _DAYS.get(rec["weekday"].lower().replace("\u3000", " "))
        if days is None:
            records.fail(row, "weekday", N_("“%(value)s” is not a weekday: use 周一…周日, 每天, "
                                            "工作日, 周末 (or mon…sun)."), value=rec["weekday"])
        slot = _SLOTS.get(rec["slot"].lower())
        if slot is None:
            records.fail(row, "slot", N_("“%(value)s” is not a time slot: use 早间, 午间, 下午 or "
                                         "晚间 (morning, midday, afternoon, evening)."),
                         value=rec["slot"])
        text = rec["hours"].removesuffix("小时").removesuffix("h").strip()
        try:
            hours = float(text)
        except ValueError:
            hours = float("nan")
            records.fail(row, "hours", N_("“%(value)s” is not a number of hours."),
                         value=rec["hours"])
        else:
            if hours != hours or not 0 <= hours <= 10000:
                records.fail(row, "hours", N_("%(value)s hours is not between 0 and 10000."),
                             value=f"{hours:g}")
        if len(records.problems.found) == before:
            out += [{"row": row, "community": rec["community"], "weekday": d, "slot": slot,
                     "hours": hours} for d in days]
    records.check()
    table = pd.DataFrame(out, columns=["row", "community", "weekday", "slot", "hours"])
    dup = table.duplicated(["community", "weekday", "slot"], keep=False)
    if dup.any():
        rows = table.loc[dup, "row"].tolist()
        records.fail(rows[-1], "community", N_("“%(value)s” has the same weekday and slot twice "
                                               "(also row %(other)s)."),
                     value=table.loc[dup, "community"].iloc[0], other=rows[0])
        records.check()
    return table
