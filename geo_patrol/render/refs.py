"""How a page names a record another refers to: an audit entry's subject or a message's ref,
stored as ``"callout 16"``, ``"notice 3"``, shown as a person knows it, in the reader's
language ("召集 #16 · 矛盾纠纷 · 钢铁大街（…）" / "Call-out #16 · Dispute · 钢铁大街 (…)")."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from geo_patrol.analysis.places import Place, place_text
from geo_patrol.render.i18n import VOCAB, in_language, term

#: ``kind key`` with an optional ``id`` between (``volunteer id 5``) and an optional word
#: after (a message's ``callout 16 escalated``).
_REF = re.compile(r"^([a-z]+)(?: id)? ([0-9]{1,12}|[A-Za-z0-9][A-Za-z0-9_-]{0,63})"
                  r"(?: [a-z_]+)?$")

#: Subjects stored as a phrase with one figure (a date, a count), by their word of the
#: ``ref_phrase`` vocabulary.
_PHRASES = ((re.compile(r"^fixes before (\d{4}-\d{2}-\d{2})$"), "fixes_before"),
            (re.compile(r"^(\d+) tasks$"), "tasks"), (re.compile(r"^(\d+) reports$"), "reports"))


@dataclass(frozen=True)
class Ref:
    """A referenced record: its kind (a word of the ``ref`` vocabulary) and its key (an id,
    or a volunteer's roster number)."""

    kind: str
    key: str

    @property
    def id(self) -> int | None:
        """The record's id, when its key is one."""
        return int(self.key) if self.key.isdigit() else None


def parse_ref(text: object) -> Ref | None:
    """The record ``text`` refers to, or ``None`` for any other text (a username, a device,
    a course's name)."""
    if not isinstance(text, str):
        return None
    found = _REF.match(text.strip())
    if found is None or found.group(1) not in VOCAB["ref"]:
        return None
    return Ref(found.group(1), found.group(2))


#: A reference as a person types it: a kind's word in either language, then its number
#: or roster number after a space or ``#`` (or straight after a Chinese word): "召集 #16",
#: "call-out 16", "义警 BT00012", "义警BT00012".
_TYPED = re.compile(r"^\s*(.*?)(?:\s*#\s*|\s+|(?<=[^\x00-\x7f]))"
                    r"([0-9]{1,12}|[A-Za-z0-9][A-Za-z0-9_-]{0,63})\s*$")


def _kind_named(word: str) -> str | None:
    """The kind a word of the ``ref`` vocabulary names, in either language."""
    word = word.strip().casefold()
    return next((k for k, names in VOCAB["ref"].items()
                 if word in (n.casefold() for n in names)), None)


def stored_ref(typed: object) -> str | None:
    """The stored form (``callout 16``, ``volunteer BT00012``, or ``callout`` for every
    call-out) of a reference typed as a page shows it, in either language; ``None`` for any
    other text."""
    if not isinstance(typed, str):
        return None
    found = _TYPED.match(typed)
    if found is not None and (kind := _kind_named(found.group(1))) is not None:
        return f"{kind} {found.group(2)}"
    return _kind_named(typed)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def ref_text(text: object, lang: str, detail: Mapping[str, Any] | None = None) -> str:
    """What a person reads for a stored reference: its kind and number, then what the
    record is when ``detail`` says it (a call-out's category or alarm and its street, a
    notice's title); any other text as it is."""
    ref = parse_ref(text)
    if ref is None:
        if _missing(text):
            return ""
        for pattern, word in _PHRASES:
            if found := pattern.match(str(text)):
                return term("ref_phrase", word, lang).format(found.group(1))
        return str(text)
    name = term("ref", ref.kind, lang)
    parts = [f"{name} #{ref.key}" if ref.id is not None else f"{name} {ref.key}"]
    if detail:
        if ref.kind == "callout":
            if detail.get("kind") == "callout" and not _missing(detail.get("category")):
                parts.append(term("report", detail["category"], lang))
            elif not _missing(detail.get("kind")):
                parts.append(term("callout_kind", detail["kind"], lang))
            if not _missing(detail.get("street")):
                parts.append(place_text(Place(detail["street"], detail.get("cross_a") or None,
                                              detail.get("cross_b") or None), lang))
        elif ref.kind == "notice" and not _missing(detail.get("title")):
            parts.append(in_language(detail["title"], lang))
    return " · ".join(p for p in parts if p)
