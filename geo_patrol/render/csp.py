"""The Content-Security-Policy of pages, map documents and briefings: no inline script runs
unless its SHA-256 is listed, so markup injected into a popup can never run."""

from __future__ import annotations

import base64
import hashlib
import re

_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


def script_hashes(html: str) -> list[str]:
    """``'sha256-...'`` sources of every inline script of a document, in order, once each."""
    seen: dict[str, None] = {}
    for body in _INLINE_SCRIPT.findall(html):
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
        seen.setdefault(f"'sha256-{digest}'", None)
    return list(seen)


def policy(html: str = "", *, framed_by_self: bool = True) -> str:
    """The policy for a document: only this origin, and only the inline scripts it holds."""
    scripts = " ".join(["'self'", *script_hashes(html)])
    parts = ["default-src 'self'", f"script-src {scripts}", "style-src 'self' 'unsafe-inline'",
             "img-src 'self' data: blob:", "font-src 'self' data:", "connect-src 'self'",
             "worker-src 'self' blob:", "object-src 'none'", "base-uri 'none'",
             "form-action 'self'"]
    if framed_by_self:
        parts.append("frame-ancestors 'self'")
    return "; ".join(parts)


def with_meta_policy(html: str) -> str:
    """A self-contained file (a briefing) carrying its own policy in a ``<meta>`` element."""
    content = policy(html, framed_by_self=False)
    tag = f'<meta http-equiv="Content-Security-Policy" content="{content}">'
    return html.replace("<head>", "<head>" + tag, 1)
