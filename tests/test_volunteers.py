"""The volunteer roster: encodings, Chinese headers, checks, encryption, duplicates."""

from __future__ import annotations

import openpyxl
import pytest
import sqlalchemy as sa

from geo_patrol.errors import InputError
from geo_patrol.services.sources import load_volunteers
from geo_patrol.privacy import Vault, id_number_problem, mask_id_number, mask_phone
from tests.helpers import count, id_number

CHINESE_HEADER = "编号,姓名,手机号,身份证号,职业,队伍,技能特长,职责,社区,状态"


def _chinese_rows():
    return [
        f"BT0001,张伟,138 1234 5678,{id_number(1)},出租车司机,出租车义警队,驾驶,巡逻防控、情报员,,在岗",
        f"BT0002,王芳,+86 139-1234-5678,{id_number(2)},外卖骑手,骑手义警队;应急队,急救,巡逻防控,,在岗",
        f"BT0003,李秀英,0472-5123456,{id_number(3)},退休居民,五老义警队,调解,调解员,,离岗",
    ]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_chinese_roster_in_every_encoding(engine, settings, tmp_path, encoding):
    path = tmp_path / f"roster-{encoding}.csv"
    path.write_bytes("\n".join([CHINESE_HEADER, *_chinese_rows()]).encode(encoding))
    result = load_volunteers(engine, path, settings=settings)
    assert result.stored == 3
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT number, name, phone, occupation, duties, active FROM volunteers "
            "ORDER BY number")).all()
        teams = conn.execute(sa.text(
            "SELECT v.number, array_agg(t.name ORDER BY t.name) FROM volunteer_teams vt "
            "JOIN volunteers v ON v.id = vt.volunteer_id JOIN teams t ON t.id = vt.team_id "
            "GROUP BY v.number ORDER BY v.number")).all()
    assert [r.name for r in rows] == ["张伟", "王芳", "李秀英"]
    assert [r.phone for r in rows] == ["13812345678", "13912345678", "0472-5123456"]
    assert [r.occupation for r in rows] == ["taxi_driver", "delivery_rider", "retired_resident"]
    assert rows[0].duties == ["巡逻防控", "情报员"]
    assert [r.active for r in rows] == [True, True, False]
    assert teams[1][1] == ["应急队", "骑手义警队"]


def test_xlsx_roster(engine, settings, tmp_path):
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(CHINESE_HEADER.split(","))
    for line in _chinese_rows():
        ws.append(line.split(","))
    path = tmp_path / "roster.xlsx"
    book.save(path)
    assert load_volunteers(engine, path, settings=settings).stored == 3
    assert count(engine, "volunteers") == 3


def test_id_numbers_encrypted_and_hashed(engine, settings, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("\n".join([CHINESE_HEADER, *_chinese_rows()]), encoding="utf-8")
    load_volunteers(engine, path, settings=settings)
    with engine.connect() as conn:
        cipher, digest = conn.execute(sa.text(
            "SELECT id_cipher, id_hash FROM volunteers WHERE number = 'BT0001'")).one()
        dump = conn.execute(sa.text("SELECT v::text FROM volunteers v")).scalars().all()
    assert id_number(1) not in " ".join(dump)
    vault = Vault.from_settings(settings)
    assert vault.decrypt(cipher) == id_number(1)
    assert bytes(digest) == vault.keyed_hash(id_number(1))
    # another deployment's secret cannot read it
    assert Vault.from_secret("another secret").keyed_hash(id_number(1)) != bytes(digest)


def test_reloading_updates_and_catches_duplicate_person(engine, settings, tmp_path):
    first = tmp_path / "a.csv"
    first.write_text("\n".join([CHINESE_HEADER, *_chinese_rows()]), encoding="utf-8")
    load_volunteers(engine, first, settings=settings)
    update = tmp_path / "b.csv"
    update.write_text("\n".join([CHINESE_HEADER, _chinese_rows()[0].replace("在岗", "离岗")]),
                      encoding="utf-8")
    result = load_volunteers(engine, update, settings=settings)
    assert result.details == {"new": 0, "updated": 1}
    assert count(engine, "volunteers", "NOT active") == 2
    same_person = tmp_path / "c.csv"
    same_person.write_text("\n".join([CHINESE_HEADER, _chinese_rows()[1].replace("BT0002",
                                                                                  "BT0099")]))
    with pytest.raises(InputError, match=r"row 2, id_number: This ID number is already registered "
                                         r"as volunteer BT0002"):
        load_volunteers(engine, same_person, settings=settings)
    assert count(engine, "volunteers") == 3


def test_column_mapping(engine, settings, tmp_path):
    path = tmp_path / "custom.csv"
    path.write_text("队员号,队员姓名,职业\nX1,赵六,保安\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing column\\(s\\) number, name"):
        load_volunteers(engine, path, settings=settings)
    result = load_volunteers(engine, path, mapping={"number": "队员号", "name": "队员姓名"},
                             settings=settings)
    assert result.stored == 1


@pytest.mark.parametrize("line,message", [
    (f"B1,张三,13812345678,{id_number(1)[:-1]}{'0' if id_number(1)[-1] != '0' else '1'},保安,,,,,1",
     r"row 2, id_number: Not a valid ID number"),
    ("B1,张三,1381234567,,保安,,,,,1", r"row 2, phone: “1381234567” is not a mainland mobile"),
    ("B1,=HYPERLINK(\"http://x\"),13812345678,,保安,,,,,1", r"row 2, name: .* spreadsheet formula"),
    ("B1,张三,13812345678,,宇航员,,,,,1", r"row 2, occupation: “宇航员” is not an occupation"),
    ("B1,张三,13812345678,,保安,,,,火星社区,1", r"row 2, community: No community named 火星社区 is loaded"),
    ("B1,张三,13812345678,,保安,,,,,maybe", r"row 2, active: “maybe” is not yes or no"),
])
def test_bad_rows_refused(engine, settings, tmp_path, line, message):
    path = tmp_path / "bad.csv"
    path.write_text("number,name,phone,id_number,occupation,teams,skills,duties,community,"
                    f"active\n{line}\n", encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_volunteers(engine, path, settings=settings)
    assert count(engine, "volunteers") == 0
    assert count(engine, "uploads") == 0


def test_duplicate_rows_in_one_file(engine, settings, tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text(f"number,name,id_number\nA1,甲,{id_number(5)}\nA2,乙,{id_number(5)}\n")
    with pytest.raises(InputError, match="row 3, id_number: The same ID number as row 2"):
        load_volunteers(engine, path, settings=settings)
    path.write_text("number,name\nA1,甲\nA1,乙\n")
    with pytest.raises(InputError, match="row 3, number: Volunteer number A1 is also on row 2"):
        load_volunteers(engine, path, settings=settings)
    assert count(engine, "volunteers") == 0


def test_xlsx_formula_cells_refused(engine, settings, tmp_path):
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["number", "name", "phone"])
    ws.append(["A1", "甲", "=1+1"])
    path = tmp_path / "f.xlsx"
    book.save(path)
    with pytest.raises(InputError, match=r"row 2, \w+: Cell C2 holds a formula"):
        load_volunteers(engine, path, settings=settings)
    assert count(engine, "volunteers") == 0


def test_checks_and_masks():
    assert id_number_problem(id_number(7)) is None
    assert "17 digits" in id_number_problem("12345")
    assert mask_phone("13812341234") == "138****1234"
    assert mask_id_number("150203199001011234") == "1502**********1234"
