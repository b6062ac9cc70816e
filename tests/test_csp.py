"""The Content-Security-Policy by nonce: each served response has its own random nonce, the
inline scripts the app writes (templates and map documents) carry it, and a script that
reached a response any other way is not allowed to run; briefings (files) keep their hashes."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from geo_patrol.render.csp import policy, script_hashes, with_meta_policy
from tests.helpers import make_user, sign_in
from tests.test_access import DAY, world  # noqa: F401  (the shared fixture)

_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S | re.I)


def _script_src(header: str) -> list[str]:
    directive = next(p for p in header.split("; ") if p.startswith("script-src "))
    return directive.split()[1:]


def _inline_scripts(html: str) -> list[tuple[str, str]]:
    """(attributes, body) of every inline script (no ``src``) of a document."""
    return [(attrs, body) for attrs, body in _SCRIPT.findall(html)
            if not re.search(r"\bsrc\s*=", attrs)]


def _runs(attrs: str, body: str, header: str) -> bool:
    """Whether a policy lets an inline script run (CSP level 3): by its nonce or its hash;
    ``'unsafe-inline'`` only counts where the policy lists neither."""
    sources = _script_src(header)
    nonce = re.search(r'\bnonce="([^"]*)"', attrs)
    if nonce and f"'nonce-{nonce.group(1)}'" in sources:
        return True
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    if f"'sha256-{digest}'" in sources:
        return True
    keyed = any(s.startswith(("'nonce-", "'sha")) for s in sources)
    return "'unsafe-inline'" in sources and not keyed


def _nonce_of(header: str) -> str:
    nonces = [s[len("'nonce-"):-1] for s in _script_src(header) if s.startswith("'nonce-")]
    assert len(nonces) == 1, header
    return nonces[0]


def _by_nonce_only(header: str) -> str:
    """The nonce of a served policy, asserting it lets inline scripts run by it alone."""
    sources = _script_src(header)
    assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources, header
    assert not [s for s in sources if s.startswith("'sha")], header
    nonce = _nonce_of(header)
    assert len(nonce) >= 22 and re.fullmatch(r"[A-Za-z0-9_-]+", nonce)
    return nonce


# --- the render boundary, without a server ---------------------------------------------------

def test_a_map_document_marks_only_the_scripts_folium_writes():
    import folium

    from geo_patrol.render.csp import figure_html
    from geo_patrol.render.maps import base_map, finish, map_html

    def drawn() -> folium.Map:
        m, _ = base_map((109.8, 40.6, 109.9, 40.7), lang="en")
        folium.Marker([40.65, 109.85], popup="</script><script>window.__xss=1</script>",
                      tooltip="<script>window.__xss=2</script>").add_to(m)
        return finish(m, [("legend", [("#fff", "<script>window.__xss=3</script>")])])

    nonce = "n0nce-for-this-test_1234"
    page = map_html(drawn(), lang="zh", nonce=nonce)
    header = policy(nonce=nonce)
    inline = _inline_scripts(page)
    own = [(a, b) for a, b in inline if "__xss" not in b]
    assert len(own) >= 2 and all(_runs(a, b, header) for a, b in own)
    # folium writes this popup unescaped (the app escapes its own at the render boundary):
    # the script it breaks out into is not one folium wrote, and has no nonce
    planted = [(a, b) for a, b in inline if "__xss" in b]
    assert planted and not any(_runs(a, b, header) for a, b in planted)
    # without a nonce (no request: the command line, briefings) it is folium's own document
    plain = map_html(drawn(), lang="zh")
    assert "nonce=" not in plain
    same = re.sub(r"_[0-9a-f]{32}", "_ID", page).replace(f' nonce="{nonce}"', "")
    assert same == re.sub(r"_[0-9a-f]{32}", "_ID", plain)
    # markup in the body is not the app's script: a body element holding one is not marked
    m = drawn()
    m.get_root().html.add_child(folium.Element("<p><script>window.__xss=4</script></p>"))
    injected = map_html(m, lang="zh", nonce=nonce)
    planted = [(a, b) for a, b in _inline_scripts(injected) if "__xss=4" in b]
    assert planted and not any(_runs(a, b, header) for a, b in planted)
    with pytest.raises(ValueError):
        figure_html(drawn().get_root(), 'x" onload="alert(1)')


def test_a_briefing_keeps_the_hashes_of_its_scripts():
    page = with_meta_policy("<html><head></head><body><script>var a = 1;</script></body></html>")
    meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert meta and script_hashes(page)[0] in _script_src(meta.group(1))
    assert "frame-ancestors" not in meta.group(1) and "'nonce-" not in meta.group(1)
    assert all(_runs(a, b, meta.group(1)) for a, b in _inline_scripts(page))


# --- served responses ------------------------------------------------------------------------

def test_served_pages_run_scripts_by_their_own_nonce_only(world):  # noqa: F811
    client = world["clients"]["command"]
    first = client.get("/dashboard")
    second = client.get("/dashboard")
    assert first.status_code == second.status_code == 200
    nonces = {_by_nonce_only(r.headers["Content-Security-Policy"]) for r in (first, second)}
    assert len(nonces) == 2  # a fresh nonce per response
    for resp in (first, second):
        header = resp.headers["Content-Security-Policy"]
        assert all(_runs(a, b, header) for a, b in _inline_scripts(resp.get_data(as_text=True)))
    # not only pages: JSON, tiles and errors carry a policy by nonce too
    for path in ("/api/me", "/no-such-page"):
        _by_nonce_only(client.get(path).headers["Content-Security-Policy"])


def test_every_script_of_a_served_map_document_carries_the_nonce(world):  # noqa: F811
    client, run, a = world["clients"]["command"], world["run"], world["a"]
    seen = set()
    for path in (f"/maps/district/{world['district']}?run={run}",
                 f"/maps/community/{a}?run={run}&day={DAY}", "/maps/live", "/maps/crime",
                 f"/maps/plan?area={a}&zones=2&minutes=45&run={run}"):
        resp = client.get(path)
        assert resp.status_code == 200, path
        header = resp.headers["Content-Security-Policy"]
        nonce = _by_nonce_only(header)
        inline = _inline_scripts(resp.get_data(as_text=True))
        assert inline, path  # folium writes the map as an inline script
        for attrs, body in inline:
            assert f'nonce="{nonce}"' in attrs and _runs(attrs, body, header), (path, attrs)
        seen.add(nonce)
    assert len(seen) == 5


@pytest.fixture(scope="module")
def probe(demo_world):
    """An app with two test-only pages: a template's own script (with ``csp_nonce()``) next
    to user text, and a page with a script put into its body after rendering."""
    from flask import render_template_string

    from web import create_app

    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": demo_world["settings"]})
    page = ('<!DOCTYPE html><html><head><script nonce="{{ csp_nonce() }}">window.ok = 1;'
            '</script></head><body><p>{{ text }}</p></body></html>')
    text = "</p><script>window.__xss = 1;</script>"

    @app.get("/_csp/page")
    def csp_page():  # noqa: ANN202
        return render_template_string(page, text=text)

    @app.get("/_csp/injected")
    def csp_injected():  # noqa: ANN202
        html = render_template_string("<!DOCTYPE html><html><head></head><body><p>{{ text }}"
                                      "</p></body></html>", text="a report")
        return html.replace("</body>", "<script>window.__xss = 2;</script></body>")

    client = app.test_client()
    sign_in(client, make_user(demo_world["engine"], "csp-probe", "command"))
    return client


def test_the_templates_nonce_is_the_headers_and_user_text_never_runs(probe):
    resp = probe.get("/_csp/page")
    header, body = resp.headers["Content-Security-Policy"], resp.get_data(as_text=True)
    nonce = _by_nonce_only(header)
    assert f'<script nonce="{nonce}">window.ok = 1;</script>' in body
    assert "&lt;script&gt;" in body and "__xss" not in "".join(b for _, b in
                                                               _inline_scripts(body))


def test_a_script_put_into_a_response_after_rendering_is_not_allowed(probe):
    resp = probe.get("/_csp/injected")
    header, body = resp.headers["Content-Security-Policy"], resp.get_data(as_text=True)
    planted = _inline_scripts(body)
    assert len(planted) == 1 and "__xss" in planted[0][1]
    assert not _runs(*planted[0], header)  # the policy is not made from the body
    _by_nonce_only(header)
