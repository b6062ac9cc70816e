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


def test_an_event_reaches_many_pages_a_chunk_per_turn_of_the_loop_in_order():
    """Thousands of pages are handed an event a chunk per turn of the event loop (the phones'
    requests on the same loop wait for one chunk, not for every page), each page getting the
    events in the order they came."""
    import asyncio
    import json

    from flask import Flask

    from geo_patrol.access import Principal, Role
    from web.events import FANOUT_CHUNK, QUEUE_SIZE, EventHub

    async def run() -> None:
        hub = EventHub(Flask(__name__))
        command = Principal(1, "command", Role.COMMAND)
        queues = [asyncio.Queue(QUEUE_SIZE) for _ in range(2 * FANOUT_CHUNK + 7)]
        for queue in queues:
            hub.listeners.add(("baotou", command, queue))
        elsewhere: asyncio.Queue = asyncio.Queue(QUEUE_SIZE)
        hub.listeners.add(("other", command, elsewhere))
        for kind in ("first", "second"):
            hub.dispatch(json.dumps({"kind": kind, "ids": [1], "community": None,
                                     "city": "baotou"}))
        assert sum(q.qsize() for q in queues) == FANOUT_CHUNK  # one chunk this turn
        for _ in range(10):
            await asyncio.sleep(0)
        got = [[json.loads(q.get_nowait()[6:])["kind"] for _ in range(q.qsize())]
               for q in queues]
        assert all(kinds == ["first", "second"] for kinds in got)
        assert elsewhere.empty()  # another city's page sees none

    asyncio.run(run())
