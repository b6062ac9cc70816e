"""The Content-Security-Policy of pages, map documents and briefings.

Served pages and map documents: a fresh random nonce per response; only the inline scripts
the app itself writes carry it (the templates' ``<script nonce="{{ csp_nonce() }}">``, and
the scripts of a folium document, marked where :func:`figure_html` assembles it), so a
script that reached a response any other way -- markup injected into text -- never runs.

Briefings are files opened from disk, with no response to carry a nonce: their policy sits in
a ``<meta>`` element and lists the SHA-256 of each inline script they hold.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Callable, Iterable
from typing import Any

_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)
#: The opening of an inline script element (one without ``src``), up to its attributes.
_INLINE_OPENING = re.compile(r"<script(?=[\s>])(?![^>]*\bsrc=)", re.I)
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,}")


def new_nonce() -> str:
    """A nonce for one response: 128 random bits, URL-safe base64."""
    return secrets.token_urlsafe(16)


def _checked(nonce: str) -> str:
    if not _NONCE.fullmatch(nonce):
        raise ValueError("a CSP nonce is URL-safe base64 of at least 12 random bytes")
    return nonce


_nonce_source: Callable[[], str | None] = lambda: None  # noqa: E731


def use_nonce_source(source: Callable[[], str | None]) -> None:
    """Where :func:`current_nonce` asks: the web app's ``csp_nonce`` (``None`` outside a
    request, as for the command line and briefings)."""
    global _nonce_source
    _nonce_source = source


def current_nonce() -> str | None:
    """The nonce of the response being made, if any."""
    return _nonce_source()


def script_hashes(html: str) -> list[str]:
    """``'sha256-...'`` sources of every inline script of a document, in order, once each."""
    seen: dict[str, None] = {}
    for body in _INLINE_SCRIPT.findall(html):
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
        seen.setdefault(f"'sha256-{digest}'", None)
    return list(seen)


def policy(*, nonce: str | None = None, hashes: Iterable[str] = (),
           framed_by_self: bool = True, connect: Iterable[str] = ()) -> str:
    """The policy: only this origin (and for ``connect``, the server's own live-event port),
    and of inline scripts only those with ``nonce`` (a served response) or with one of
    ``hashes`` (a file); never ``'unsafe-inline'``."""
    sources = ["'self'", *([f"'nonce-{_checked(nonce)}'"] if nonce else []), *hashes]
    parts = ["default-src 'self'", f"script-src {' '.join(sources)}",
             "style-src 'self' 'unsafe-inline'", "img-src 'self' data: blob:",
             "font-src 'self' data:", " ".join(["connect-src 'self'", *connect]), "worker-src 'self' blob:",
             "object-src 'none'", "base-uri 'none'", "form-action 'self'"]
    if framed_by_self:
        parts.append("frame-ancestors 'self'")
    return "; ".join(parts)


def with_meta_policy(html: str) -> str:
    """A self-contained file (a briefing) carrying its own policy in a ``<meta>`` element:
    the hashes of the inline scripts it holds (a file has no response to carry a nonce)."""
    content = policy(hashes=script_hashes(html), framed_by_self=False)
    tag = f'<meta http-equiv="Content-Security-Policy" content="{content}">'
    return html.replace("<head>", "<head>" + tag, 1)


def figure_html(figure: Any, nonce: str) -> str:
    """A branca figure (a folium map's root) as one document whose generated scripts carry
    ``nonce``, the same document as ``figure.render()`` otherwise.

    Marked: the figure's script section, where folium writes the map, its layers, their
    data, popups and tooltips (as JSON), written here into one nonced element; and the inline
    scripts of the head's elements (folium's and its plugins' fixed set-up code: the head
    holds no user text). Not marked: the body, so a ``<script>`` there, which no element
    writes, does not run."""
    nonce = _checked(nonce)
    for child in figure._children.values():
        child.render()  # as Figure.render: each element writes into header, html, script
    attribute = f'<script nonce="{nonce}"'
    head = "".join("\n    " + _INLINE_OPENING.sub(attribute, child.render())
                   for child in figure.header._children.values())
    title = f"<title>{figure.title}</title>" if figure.title else ""
    return (f"<!DOCTYPE html>\n<html>\n<head>\n{title}    {head}\n</head>\n<body>\n"
            f"    {figure.html.render()}\n</body>\n{attribute}>\n"
            f"    {figure.script.render()}\n</script>\n</html>")
