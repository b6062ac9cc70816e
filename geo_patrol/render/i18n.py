"""Words in Simplified Chinese and English: the labels of maps and briefings, and the
vocabularies (occupations, time slots, area levels, statuses, roles...) that pages, maps,
exports and briefings all show through :func:`term`.

Pages' own sentences use Flask-Babel; maps and exported files are rendered outside a request,
so their labels live here. Hazard categories are configuration (``rules.toml``) and carry their
own names.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources


def _pairs(table: dict[str, list[str]]) -> dict[str, tuple[str, str]]:
    return {key: (zh, en) for key, (zh, en) in table.items()}


#: The words themselves are data (``data/words.toml``), each as (Chinese, English).
_WORDS = tomllib.loads(resources.files("geo_patrol.data").joinpath("words.toml").read_text("utf-8"))
#: Labels of maps, briefings and exported files, by key.
LABELS: dict[str, tuple[str, str]] = _pairs(_WORDS["labels"])
#: CSV columns of the files people open (the rota's walks, a payout list) as (Chinese,
#: English) headers; the API keeps the column keys.
CSV_HEADERS: dict[str, tuple[str, str]] = _pairs(_WORDS["csv_headers"])
#: Stored values, by vocabulary, as (Chinese, English).
VOCAB: dict[str, dict[str, tuple[str, str]]] = {
    group: _pairs(table) for group, table in _WORDS["vocab"].items()}


def label(key: str, lang: str = "zh") -> str:
    zh, en = LABELS.get(key, (key, key))
    return zh if lang.startswith("zh") else en


def duration_text(hours: object, lang: str = "zh") -> str:
    """A length of time in the reader's words: whole minutes under an hour, else hours to
    one decimal ("35 分钟", "2.5 hours"); "—" when there is none."""
    if hours is None or (isinstance(hours, float) and hours != hours):
        return "—"
    h = float(hours)  # type: ignore[arg-type]
    zh = lang.startswith("zh")
    if h < 1:
        minutes = round(h * 60)
        return f"{minutes} 分钟" if zh else f"{minutes} minute{'' if minutes == 1 else 's'}"
    return f"{h:.1f} 小时" if zh else f"{h:.1f} hours"


def within_sentence(text: str, lang: str) -> str:
    """A vocabulary's name inside an English sentence: its first letter in lower case
    ("Past hot spots" → "past hot spots"); Chinese as it is."""
    if lang.startswith("zh") or not text:
        return text
    return text[0].lower() + text[1:]


def term(group: str, value: object, lang: str = "zh") -> str:
    """A stored value of a vocabulary in the reader's language (the value itself, when the
    vocabulary does not know it: a Chinese team or skill name, for instance)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    zh, en = VOCAB.get(group, {}).get(str(value), (str(value), str(value)))
    return zh if lang.startswith("zh") else en


def terms(group: str, joined: object, lang: str = "zh", sep: str = "、") -> str:
    """A list stored as one text joined by ``sep`` (a volunteer's duties, teams or declared
    skills), each item in the reader's language."""
    if not isinstance(joined, str) or not joined:
        return ""
    return (sep if lang.startswith("zh") else ", ").join(
        term(group, item, lang) for item in joined.split(sep))


def report_label(category: object, lang: str, rules: object) -> str:
    """A report's category: a report or hazard category's configured name, else the report
    vocabulary (a category no vocabulary knows is shown as written, e.g. a Chinese one from
    a ledger)."""
    key = str(category)
    named = rules.report_label(key, lang) if hasattr(rules, "report_label") else None
    return named if named is not None else term("report", key, lang)


def status_label(status: str, lang: str = "zh") -> str:
    """A hazard's compliance status."""
    return term("compliance", status, lang)


def crew_reason(row: object, lang: str = "zh") -> str:
    """Why a volunteer was proposed for a zone and slot (a row of the proposed crew)."""
    zh = lang.startswith("zh")
    get = (lambda k: row.get(k)) if isinstance(row, dict) else (lambda k: getattr(row, k, None))
    if get("slot") == "passive":
        occupation = term("occupation", get("occupation"), lang)
        km = float(get("arterial_km"))
        return (f"{occupation}：职业途经主干道 {km:.1f} 公里" if zh else
                f"{occupation}: passive coverage of {km:.1f} km of arterials")
    parts = [f"本人 {int(get('slot_pct'))}% 的巡逻在此时段" if zh else
             f"{int(get('slot_pct'))}% of their patrols in this slot",
             f"居住地距 {float(get('distance_km')):.1f} 公里" if zh else
             f"home {float(get('distance_km')):.1f} km away"]
    if get("patrol_duty"):
        parts.append("承担巡逻防控职责" if zh else "patrol duty")
    if get("first_aid"):
        parts.append("持有效急救证书" if zh else "first-aid certificate")
    held = [s for s in str(get("certified_for") or "").split(",") if s]
    if held:
        names = ("、" if zh else ", ").join(term("skill", s, lang) for s in held)
        parts.append(f"持{names}资质（本路线需要）" if zh else f"certified for {names} (this loop needs it)")
    return ("；" if zh else "; ").join(parts)


_HAN = re.compile(r"[\u3400-\u9fff]")


def in_language(text: object, lang: str) -> str:
    """A text stored in both languages as ``中文 · English`` (a message's title) in the
    reader's language only; any other text as it is."""
    if not isinstance(text, str):
        return ""
    parts = text.split(" · ")
    if len(parts) == 2 and _HAN.search(parts[0]) and not _HAN.search(parts[1]):
        return parts[0] if lang.startswith("zh") else parts[1]
    return text
