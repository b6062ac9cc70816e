"""Training sign-in sheets (签到表): one row per volunteer and session, CSV or XLSX, Chinese or
English headers, checked row by row.

A row names the course, the session (date, place, how it was held, trainer, batch) and the
volunteer (roster number, optionally the name as signed) with the result: present, absent
or passed. A course not known yet takes its certified skill from a skill column or from its
name (``应急救护培训`` → first aid) and its validity from a validity column or the skill's
default.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from geo_patrol.clock import parse_day
from geo_patrol.errors import N_, InputError
from geo_patrol.ingest.tables import read_text_records
from geo_patrol.vocab import ATTENDANCE_RESULTS, CERT_SKILLS, TRAINING_MODES

COLUMNS = {
    "course": ("课程", "课程名称", "培训课程", "培训内容", "培训名称"),
    "skill": ("认证技能", "技能", "培训技能", "技能类别"),
    "duty": ("服务职责", "对应职责", "职责"),
    "validity_months": ("validity", "有效期", "有效期（月）", "有效期(月)", "证书有效期（月）",
                        "证书有效期"),
    "date": ("held_on", "日期", "培训日期", "培训时间"),
    "place": ("地点", "培训地点", "授课地点"),
    "mode": ("形式", "培训形式", "方式", "培训方式"),
    "trainer": ("授课人", "教员", "培训教官", "讲师", "授课教官"),
    "batch": ("批次", "期次", "培训批次"),
    "number": ("volunteer", "volunteer_number", "义警编号", "编号", "队员编号"),
    "name": ("姓名", "签名"),
    "result": ("attendance", "结果", "考核结果", "签到", "出勤", "签到情况"),
}
REQUIRED = ("course", "date", "number", "result")

#: The skill's Chinese and English names, and words in course titles that name it (checked in
#: this order, so "危化品" wins over a generic word elsewhere in the title).
SKILL_ALIASES: dict[str, tuple[str, ...]] = {
    "first_aid": ("first aid", "急救", "应急救护", "救护", "心肺复苏"),
    "mediation": ("调解", "矛盾纠纷", "纠纷化解"),
    "hazmat_inspection": ("hazmat", "危化品", "危险化学品", "危险品", "危爆"),
    "weapons_inspection": ("weapons", "枪爆", "枪支", "爆炸物", "管制刀具", "刀具"),
    "incident_response": ("incident response", "先期处置", "应急处置", "警情处置", "现场处置"),
    "fire_safety": ("fire", "消防", "防火"),
    "law": ("法律", "法治", "普法", "法规"),
    "patrol": ("巡逻", "岗前", "义警职责", "勤务"),
}
#: Months a certificate stays valid unless the sheet says otherwise (Red Cross first-aid
#: certificates: three years).
DEFAULT_VALIDITY = {"first_aid": 36, "mediation": 24, "law": 24, "patrol": 24,
                    "incident_response": 12, "fire_safety": 24, "hazmat_inspection": 12,
                    "weapons_inspection": 12}
MODE_ALIASES = {
    "classroom": ("", "课堂", "现场", "集中授课", "面授", "线下", "现场授课", "集中培训"),
    "online": ("线上", "网络", "直播", "网络直播", "视频", "在线"),
    "shadowing": ("跟班", "跟岗", "带教", "以老带新", "跟班作业"),
}
RESULT_ALIASES = {
    "present": ("出勤", "到", "已到", "签到", "已签到", "实到", "√", "✓", "不合格", "未通过",
                "yes"),
    "absent": ("缺勤", "未到", "缺席", "请假", "旷课", "×", "no"),
    "passed": ("合格", "通过", "考核通过", "考核合格", "结业", "pass", "优秀", "良好"),
}


def _lookup(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {alias.lower(): key for key, names in table.items() for alias in (key, *names)}


_MODES, _RESULTS = _lookup(MODE_ALIASES), _lookup(RESULT_ALIASES)
_SKILL_NAMES = _lookup({k: v for k, v in SKILL_ALIASES.items()})


def skill_key(value: str) -> str | None:
    """The certified skill a spelling names (``急救`` → ``first_aid``), or ``None``."""
    return _SKILL_NAMES.get(value.strip().lower().replace("-", "_"))


def skill_of_course(title: str) -> str | None:
    """The skill a course's title names (``矛盾纠纷调解实务`` → ``mediation``), or ``None``."""
    low = title.lower()
    for key, words in SKILL_ALIASES.items():
        if any(w in low for w in words):
            return key
    return None


def read_training(path: Path | str, *, today: dt.date, mapping: dict[str, str] | None = None,
                  encoding: str | None = None, sheet: str | None = None) -> pd.DataFrame:
    """Read and check a sign-in sheet.

    Returns one row per volunteer and session (index: the sheet's row number) with
    ``course, skill, duty, validity_months, held_on, place, mode, trainer, batch, number,
    name, result``; ``skill`` and ``validity_months`` are ``None`` where the sheet leaves the
    course's own (stored) ones to apply. Any bad row raises an :class:`InputError` naming it;
    a session after ``today`` (the city's date) is one.
    """
    records = read_text_records(
        path, COLUMNS, required=REQUIRED, what="the sign-in sheet", mapping=mapping,
        encoding=encoding, sheet=sheet,
        text_columns=["course", "duty", "place", "trainer", "batch", "number", "name"])

    out = []
    for row, rec in records:  # a sheet is a few hundred rows: per-row checks
        if not rec["course"]:
            records.fail(row, "course", N_("The course is empty."))
        if len(rec["course"]) > 100:
            records.fail(row, "course", N_("The course name is longer than 100 characters."))
        if not rec["number"]:
            records.fail(row, "number", N_("The volunteer number is empty."))
        held_on = parse_day(rec["date"])
        if held_on is None:
            records.fail(row, "date", N_("“%(value)s” is not a date (2026-03-15, 2026/3/15, "
                                         "2026年3月15日)."), value=rec["date"][:40])
        elif held_on.year < 2000 or held_on > today + dt.timedelta(days=1):
            records.fail(row, "date", N_("%(value)s is before 2000 or in the future: "
                                         "attendance is recorded after a session."),
                         value=str(held_on))
        skill = None
        if rec["skill"]:
            skill = skill_key(rec["skill"])
            if skill is None:
                records.fail_choice(row, "skill", N_("“%(value)s” is not a skill: use one of "
                                                     "%(allowed)s (or %(keys)s)."), rec["skill"],
                                    "急救, 调解, 危化品, 枪爆, 先期处置, 消防, 法律, 巡逻", CERT_SKILLS)
        validity = None
        if rec["validity_months"]:
            text = rec["validity_months"].removesuffix("个月").removesuffix("月").strip()
            if not text.isdigit() or not 0 <= int(text) <= 120:
                records.fail(row, "validity_months", N_("“%(value)s” is not a number of "
                                                        "months (0: no expiry, at most 120)."),
                             value=rec["validity_months"][:40])
            else:
                validity = int(text)
        mode = _MODES.get(rec["mode"].lower())
        if mode is None:
            records.fail_choice(row, "mode", N_("“%(value)s” is not a form of training: use one "
                                                "of %(allowed)s (or %(keys)s)."), rec["mode"],
                                "现场, 线上, 跟班", TRAINING_MODES)
        result = _RESULTS.get(rec["result"].lower())
        if result is None:
            records.fail_choice(row, "result", N_("“%(value)s” is not a result: use one of "
                                                  "%(allowed)s (or %(keys)s)."), rec["result"],
                                "出勤, 缺勤, 合格", ATTENDANCE_RESULTS)
        out.append({"row": row, "course": rec["course"], "skill": skill,
                    "duty": rec["duty"] or None, "validity_months": validity,
                    "held_on": held_on, "place": rec["place"] or None, "mode": mode,
                    "trainer": rec["trainer"] or None, "batch": rec["batch"],
                    "number": rec["number"], "name": rec["name"] or None, "result": result})
    result_frame = pd.DataFrame(out).set_index("row")
    key = result_frame[["course", "held_on", "batch", "number"]].map(str).agg("|".join,
                                                                           axis=1)
    for row in result_frame.index[key.duplicated(keep="first").to_numpy()]:
        first = result_frame.index[key == key[row]][0]
        records.fail(row, "number", N_("Volunteer %(value)s signed the same session twice "
                                       "(also row %(first)s)."),
                     value=result_frame.at[row, "number"][:40], first=first)
    records.check()
    return result_frame


def resolve_courses(sheet: pd.DataFrame, stored: pd.DataFrame, source: str) -> pd.DataFrame:
    """The courses a sheet names, with skill, duty and validity (index: course name).

    What the sheet says wins; what it leaves empty keeps the stored course's value; a new
    course without a skill column takes the skill its title names and that skill's default
    validity. ``stored`` has ``skill, duty, validity_months`` indexed by course name.
    """
    rows = []
    for name, part in sheet.groupby("course", sort=True):
        spec: dict[str, object] = {"course": name}
        for col in ("skill", "duty", "validity_months"):
            given = part[col].dropna().unique()
            if len(given) > 1:
                row = part.index[part[col] == given[1]][0]
                msg = (f"course {name!r} has {col.replace('_', ' ')} {given[0]!r} and "
                       f"{given[1]!r} in one sheet")
                raise InputError(msg, source=source, location=f"row {row}")
            old = stored.at[name, col] if name in stored.index else None
            spec[col] = given[0] if len(given) else (None if pd.isna(old) else old)
        if spec["skill"] is None:
            spec["skill"] = skill_of_course(str(name))
            if spec["skill"] is None:
                msg = (f"course {name!r} is new and its title names no skill: add a skill "
                       f"column (技能) with one of {', '.join(CERT_SKILLS)}")
                raise InputError(msg, source=source, location=f"row {part.index[0]}")
        if spec["validity_months"] is None:
            spec["validity_months"] = DEFAULT_VALIDITY[str(spec["skill"])]
        rows.append(spec)
    return pd.DataFrame(rows).set_index("course")
