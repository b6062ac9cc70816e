"""The volunteer roster: CSV/XLSX with English or Chinese headers, checked row by row."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from geo_patrol.errors import N_
from geo_patrol.ingest.tables import read_text_records
from geo_patrol.privacy import id_number_problem, normalise_phone

OCCUPATIONS = ("taxi_driver", "delivery_rider", "security_guard", "property_staff",
               "sanitation", "retired_resident", "other")
#: Occupations whose tracks are passive coverage at work rather than deliberate patrols.
PASSIVE_OCCUPATIONS = ("taxi_driver", "delivery_rider")

OCCUPATION_ALIASES = {
    "taxi_driver": ("taxi", "taxi driver", "出租车司机", "出租车", "的哥", "网约车司机", "司机"),
    "delivery_rider": ("delivery", "delivery rider", "rider", "courier", "外卖骑手", "外卖员",
                       "骑手", "快递员", "快递小哥", "配送员"),
    "security_guard": ("security", "security guard", "guard", "保安", "保安员", "安保人员"),
    "property_staff": ("property", "property staff", "物业", "物业人员", "物业工作人员"),
    "sanitation": ("sanitation worker", "环卫", "环卫工", "环卫工人"),
    "retired_resident": ("retired", "retired resident", "退休居民", "退休人员", "离退休人员", "五老"),
    "other": ("其他", "其它"),
}

COLUMNS = {
    "number": ("no", "编号", "义警编号", "队员编号"),
    "name": ("姓名",),
    "phone": ("mobile", "电话", "手机号", "手机", "联系电话", "手机号码"),
    "id_number": ("id_no", "身份证号", "身份证号码", "身份证"),
    "occupation": ("职业", "职业类别"),
    "teams": ("team", "队伍", "所属队伍", "专业队伍"),
    "skills": ("技能特长", "技能", "特长"),
    "duties": ("职责",),
    "community": ("home_community", "社区", "所属社区", "居住社区"),
    "active": ("status", "状态", "是否在岗"),
}
REQUIRED = ("number", "name")

_TRUE = {"", "1", "true", "yes", "y", "active", "是", "在岗", "在册", "正常", "有效", "启用"}
_FALSE = {"0", "false", "no", "n", "inactive", "否", "离岗", "停用", "注销", "退出", "无效"}
_LIST_SPLIT = re.compile(r"[,;，；、|/]+")

_occupation_lookup = {alias.lower(): key for key, names in OCCUPATION_ALIASES.items()
                      for alias in (key, *names)}


def occupation_key(value: str) -> str | None:
    """The occupation category for a roster's spelling (``外卖骑手`` → ``delivery_rider``)."""
    return _occupation_lookup.get(value.strip().lower().replace("-", "_"))


def split_list(value: str) -> list[str]:
    return [p.strip() for p in _LIST_SPLIT.split(value) if p.strip()]


def read_volunteers(path: Path | str, *, mapping: dict[str, str] | None = None,
                    encoding: str | None = None, sheet: str | None = None) -> pd.DataFrame:
    """Read and check a roster.

    Returns one row per volunteer (index: the file's row number) with ``number, name, phone,
    id_number, occupation, teams, skills, duties, community, active``. Any bad row raises an
    :class:`~geo_patrol.errors.RowErrors` naming every bad value.
    """
    records = read_text_records(
        path, COLUMNS, required=REQUIRED, what="the roster", mapping=mapping,
        encoding=encoding, sheet=sheet,
        text_columns=["number", "name", "occupation", "teams", "skills", "duties", "community"])

    out = []
    for row, rec in records:  # rosters are thousands of rows: per-row checks are cheap
        if not rec["number"]:
            records.fail(row, "number", N_("The volunteer number is empty."))
        if not rec["name"]:
            records.fail(row, "name", N_("The name is empty."))
        phone = None
        if rec["phone"]:
            phone = normalise_phone(rec["phone"])
            if phone is None:
                records.fail(row, "phone", N_("“%(value)s” is not a mainland mobile or "
                                              "landline number."), value=rec["phone"][:40])
        id_number = rec["id_number"].upper() or None
        if id_number:
            problem = id_number_problem(id_number)
            if problem:
                records.fail(row, "id_number", N_("Not a valid ID number: 17 digits and a "
                                                  "check digit (0-9 or X), GB 11643."))
        occupation = occupation_key(rec["occupation"]) if rec["occupation"] else "other"
        if occupation is None:
            records.fail_choice(row, "occupation", N_("“%(value)s” is not an occupation: use one "
                                                      "of %(allowed)s (or %(keys)s)."),
                                rec["occupation"], "出租车司机, 外卖骑手, 保安, 物业, 环卫, 退休居民, 其他",
                                OCCUPATIONS)
        active = rec["active"].lower()
        if active not in _TRUE | _FALSE:
            records.fail(row, "active", N_("“%(value)s” is not yes or no (是/否, 在岗/离岗)."),
                         value=rec["active"][:40])
        out.append({"row": row, "number": rec["number"], "name": rec["name"], "phone": phone,
                    "id_number": id_number, "occupation": occupation,
                    "teams": split_list(rec["teams"]), "skills": split_list(rec["skills"]),
                    "duties": split_list(rec["duties"]), "community": rec["community"] or None,
                    "active": active in _TRUE})
    result = pd.DataFrame(out).set_index("row")
    numbered = result[result["number"] != ""]
    dup = numbered["number"].duplicated(keep="first")
    for row in numbered.index[dup.to_numpy()]:
        first = numbered.index[numbered["number"] == numbered.at[row, "number"]][0]
        records.fail(row, "number", N_("Volunteer number %(value)s is also on row %(first)s."),
                     value=numbered.at[row, "number"][:40], first=first)
    ids = result["id_number"].dropna()
    for row in ids.index[ids.duplicated(keep="first").to_numpy()]:
        first = ids.index[ids == ids[row]][0]
        records.fail(row, "id_number", N_("The same ID number as row %(first)s: a volunteer "
                                          "listed twice?"), first=first)
    records.check()
    return result
