"""XML screening: every XML input (OSM, GPX, KML) passes defusedxml before any parser sees it."""

from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from geo_patrol.errors import InputError
from geo_patrol.ingest._files import open_maybe_compressed


def screen_xml(path: Path) -> None:
    """Refuse XML with a DOCTYPE, entity declarations or external references, or malformed XML.

    The document is streamed and discarded element by element, so memory stays flat.
    """
    try:
        with open_maybe_compressed(path) as fh:
            for _event, elem in iterparse(fh, events=("end",), forbid_dtd=True,
                                          forbid_entities=True, forbid_external=True):
                elem.clear()
    except DefusedXmlException as exc:
        msg = f"XML with a DOCTYPE or entity declaration is refused ({type(exc).__name__})"
        raise InputError(msg, source=str(path)) from None
    except ParseError as exc:
        line, col = getattr(exc, "position", (None, None))
        msg = f"malformed XML: {str(exc).split(':')[0]}"
        raise InputError(msg, source=str(path), location=f"line {line}, column {col}") from None
    except (OSError, EOFError) as exc:
        msg = f"cannot read file: {exc}"
        raise InputError(msg, source=str(path)) from None
