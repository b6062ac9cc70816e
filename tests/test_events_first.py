"""The live events' port may be a fresh process's first caller of the web app: a page that
connects to ``/events`` before any page was served is signed in, not left waiting."""

from __future__ import annotations

import threading

from tests.helpers import make_user, sign_in


def test_events_sign_in_before_any_page_was_served(demo_world):
    from web import create_app
    from web.events import session_principal

    make_user(demo_world["engine"], "ev-first", "command")
    config = {"GEO_PATROL_SETTINGS": demo_world["settings"], "TESTING": True}
    pages = create_app(config)
    client = pages.test_client()
    sign_in(client, "ev-first")
    cookie = client.get_cookie(pages.config.get("SESSION_COOKIE_NAME", "session")).value
    fresh = create_app(config)  # as `geo-patrol serve` starts: nothing opened yet
    found: list = []
    thread = threading.Thread(target=lambda: found.append(session_principal(fresh, cookie)),
                              daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "the events' sign-in waits forever"
    assert found and found[0][1].username == "ev-first"
