"""The Chinese catalog and the vocabularies: complete, compiled, and one word per meaning."""

from __future__ import annotations

import io
from collections import defaultdict

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from geo_patrol.analysis.compliance import STATUSES
from geo_patrol.ingest.volunteers import OCCUPATIONS
from geo_patrol.planning.crew import SLOTS
from geo_patrol.render.i18n import VOCAB, crew_reason, term
from geo_patrol.services.exports import LAYERS

from geo_patrol.vocab import (AREA_LEVELS, ATTENDANCE_RESULTS, CALLOUT_KINDS, CALLOUT_OUTCOMES,
                              CALLOUT_STATUSES, CERT_SKILLS, HAZARD_STATUSES, LEFT_OUT_REASONS,
                              NOTICE_KINDS, PATROL_KINDS, REPORT_VERIFICATIONS, ROLES,
                              TRAINING_MODES, TRAINING_STANDINGS, TRAVEL_MODES, UPLOAD_KINDS)
from tests.conftest import REPO

WEB = REPO / "web"
PO = WEB / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
#: Different English strings that rightly share one Chinese word.
SHARED_ON_PURPOSE: dict[str, set[str]] = {}


def _catalog():
    return read_po(PO.open("rb"))


def _extracted() -> set[str]:
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    return {msg[2] for msg in extract_from_dir(str(WEB), method_map)
            if isinstance(msg[2], str)}


def test_every_msgid_is_translated():
    catalog = _catalog()
    translated = {m.id: m.string for m in catalog if m.id}
    missing = sorted(_extracted() - set(translated))
    empty = sorted(k for k, v in translated.items() if not v)
    assert missing == [] and empty == [], (missing, empty)


def test_no_chinese_word_stands_for_two_meanings():
    by: dict[str, set[str]] = defaultdict(set)
    for m in _catalog():
        if m.id:
            by[m.string].add(m.id)
    shared = {zh: ids for zh, ids in by.items() if len(ids) > 1}
    assert shared == {k: v for k, v in SHARED_ON_PURPOSE.items() if k in shared}, shared


def test_compiled_catalog_matches_the_source():
    compiled = read_mo(io.BytesIO((PO.with_suffix(".mo")).read_bytes()))
    assert {m.id: m.string for m in compiled if m.id} == \
        {m.id: m.string for m in _catalog() if m.id}


@pytest.mark.parametrize("group, values", [
    ("occupation", OCCUPATIONS), ("slot", (*SLOTS, "passive")), ("level", AREA_LEVELS),
    ("compliance", STATUSES), ("hazard_status", HAZARD_STATUSES),
    ("verification", REPORT_VERIFICATIONS), ("role", ROLES), ("kind", PATROL_KINDS),
    ("upload", tuple(UPLOAD_KINDS)), ("layer", LAYERS), ("skill", CERT_SKILLS),
    ("training_mode", TRAINING_MODES), ("attendance", ATTENDANCE_RESULTS),
    ("standing", TRAINING_STANDINGS), ("callout_kind", CALLOUT_KINDS),
    ("callout_status", CALLOUT_STATUSES), ("callout_outcome", CALLOUT_OUTCOMES),
    ("left_out", LEFT_OUT_REASONS), ("travel_mode", TRAVEL_MODES),
    ("notice_kind", NOTICE_KINDS)])
def test_vocabularies_cover_every_stored_value(group, values):
    for value in values:
        zh, en = term(group, value, "zh"), term(group, value, "en")
        assert zh != value and en != value, (group, value)
        assert any("\u4e00" <= c <= "\u9fff" for c in zh), (group, value, zh)
    words = [term(group, v, "zh") for v in values]
    assert len(set(words)) == len(words) or group in ("compliance", "hazard_status"), words
    assert set(VOCAB[group]) >= set(values)


def test_planner_reasons_are_worded_in_both_languages():
    row = {"slot": "morning", "slot_pct": 45, "distance_km": 1.234, "patrol_duty": True,
           "first_aid": False, "occupation": "retired_resident", "arterial_km": 0.0}
    assert crew_reason(row, "zh") == "本人 45% 的巡逻在此时段；居住地距 1.2 公里；承担巡逻防控职责"
    assert crew_reason(row, "en") == "45% of their patrols in this slot; home 1.2 km away; " \
        "patrol duty"
    trained = {**row, "first_aid": True, "certified_for": "hazmat_inspection,weapons_inspection"}
    assert crew_reason(trained, "zh").endswith(
        "；持有效急救证书；持危化品安全检查、枪爆刀具管控检查资质（本路线需要）")
    assert crew_reason(trained, "en").endswith(
        "; first-aid certificate; certified for Dangerous-goods inspection, "
        "Guns/explosives/knives inspection (this loop needs it)")
    passive = {**row, "slot": "passive", "occupation": "taxi_driver", "arterial_km": 3.25}
    assert crew_reason(passive, "zh") == "出租车司机：职业途经主干道 3.2 公里"


def test_a_refusal_words_every_resource_and_action_in_both_languages():
    """What a role's refusal says (``This officer account may not change hazards.``) has
    words for every resource and action of the access matrix, in Chinese and English."""
    from geo_patrol.access import MATRIX

    for resource, action in MATRIX:
        for group, value in (("resource", resource.value), ("access", action)):
            zh, en = term(group, value, "zh"), term(group, value, "en")
            assert value in VOCAB[group] and any("\u4e00" <= c <= "\u9fff" for c in zh), \
                (group, value)
            assert not any("\u4e00" <= c <= "\u9fff" for c in en), (group, value)


def test_every_action_the_audit_log_records_has_a_name_in_both_languages():
    """The audit page names each action: every action the code writes (a literal, or a
    report's ``report_<outcome>``) has its words, so no raw code such as ``trial_create``
    shows on a page."""
    import re

    written = set()
    for path in [*(REPO / "geo_patrol").rglob("*.py"), *(REPO / "web").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        written |= set(re.findall(r"\baudit\([a-z_]+, [^,()]+(?:\([^)]*\))?, \"([a-z_]+)\"",
                                  text))
    assert {"callout", "notice", "trial_create", "still_answer"} <= written  # the scan reads
    missing = sorted(a for a in written if a not in VOCAB["action"])
    assert missing == []
    for action in written:
        zh, en = VOCAB["action"][action]
        assert zh and en and zh != en
