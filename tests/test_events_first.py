"""The live events' port: it may be a fresh process's first caller of the web app (a page
that connects to ``/events`` before any page was served is signed in, not left waiting); a
stream ends soon after its sign-out or its account's disabling; only the web app's own origin
(scheme, host and port) reads it; an account holds a few streams at most."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.helpers import make_user, sign_in

#: Where the web app's pages are (nothing listens: the streams are opened by hand).
WEB_PORT = 18080
#: The streams' heartbeat in these tests (seconds): each checks its session this often.
BEAT_S = 0.3


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def events(demo_world):
    """The web app and its live-event port, as ``geo-patrol serve`` runs them (a short
    heartbeat); the port's number."""
    from web import create_app
    from web.positions import serve_positions

    port = _free_port()
    settings = demo_world["settings"].with_(web_origins="https://patrol.example.gov")
    app = create_app({"GEO_PATROL_SETTINGS": settings, "TESTING": True,
                      "GEO_PATROL_EVENTS_PORT": port, "GEO_PATROL_WEB_PORT": WEB_PORT,
                      "GEO_PATROL_EVENTS_HEARTBEAT_S": BEAT_S})
    serve_positions(None, "127.0.0.1", port, events=app)
    return {"app": app, "port": port}


def _signed_in(events, demo_world, username: str, role: str = "command"):  # noqa: ANN202
    """A browser of ``username`` signed in to the web app: (test client, CSRF token,
    session cookie)."""
    make_user(demo_world["engine"], username, role)
    app = events["app"]
    client = app.test_client()
    token = sign_in(client, username)
    return client, token, client.get_cookie(app.config.get("SESSION_COOKIE_NAME",
                                                           "session")).value


class Stream:
    """``GET /events`` read as it comes, on a socket of its own."""

    def __init__(self, events, cookie: str, origin: str | None = None) -> None:  # noqa: ANN001
        name = events["app"].config.get("SESSION_COOKIE_NAME", "session")
        self.sock = socket.create_connection(("127.0.0.1", events["port"]), timeout=10)
        head = (f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{events['port']}\r\n"
                f"Cookie: {name}={cookie}\r\nConnection: close\r\n"
                + (f"Origin: {origin}\r\n" if origin else "") + "\r\n")
        self.sock.sendall(head.encode())
        self.read = b""  # what the stream sent, once ended
        self.head = b""
        while b"\r\n\r\n" not in self.head:
            got = self.sock.recv(4096)
            if not got:
                break
            self.head += got
        self.status = int(self.head.split(b" ", 2)[1]) if self.head else 0

    def header(self, name: str) -> str | None:
        for line in self.head.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
            key, _, value = line.decode().partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None

    def ends_within(self, seconds: float) -> bool:
        """Whether the server ends the stream within ``seconds`` (what it sends read)."""
        self.sock.settimeout(0.2)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                got = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.read += got
            if not got or got.endswith(b"0\r\n\r\n"):
                return True
        return False

    def close(self) -> None:
        self.sock.close()


def test_a_stream_ends_when_its_session_is_signed_out(events, demo_world):
    client, token, cookie = _signed_in(events, demo_world, "ev-out")
    stream = Stream(events, cookie)
    try:
        assert stream.status == 200
        assert not stream.ends_within(3 * BEAT_S)  # alive, with its keep-alives
        assert client.post("/logout", data={"csrf_token": token}).status_code == 302
        assert stream.ends_within(5.0), "the stream outlived its sign-out"
    finally:
        stream.close()


def test_a_stream_ends_when_its_account_is_disabled(events, demo_world):
    from geo_patrol.store.accounts import set_disabled

    _, _, cookie = _signed_in(events, demo_world, "ev-disabled")
    stream = Stream(events, cookie)
    try:
        assert stream.status == 200 and not stream.ends_within(3 * BEAT_S)
        set_disabled(demo_world["engine"], "ev-disabled", by="test")
        assert stream.ends_within(5.0), "the stream outlived its account"
    finally:
        stream.close()


def test_only_the_web_apps_own_origin_reads_the_stream(events, demo_world):
    """A page of another port, scheme or host (another site on the same machine, whose
    browser sends the same cookie) is refused; the web app's own pages are let in."""
    _, _, cookie = _signed_in(events, demo_world, "ev-origin")
    own = f"http://127.0.0.1:{WEB_PORT}"
    stream = Stream(events, cookie, origin=own)
    try:
        assert stream.status == 200
        assert stream.header("Access-Control-Allow-Origin") == own
        assert stream.header("Access-Control-Allow-Credentials") == "true"
    finally:
        stream.close()
    for origin in (f"http://127.0.0.1:{WEB_PORT + 1}", f"https://127.0.0.1:{WEB_PORT}",
                   "https://patrol.example.gov:8443", "http://patrol.example.gov",
                   "http://127.0.0.1", f"http://evil.example:{WEB_PORT}",
                   f"http://127.0.0.1:{events['port']}", "null"):
        refused = Stream(events, cookie, origin=origin)
        try:
            assert refused.status == 403, origin
            assert refused.header("Access-Control-Allow-Origin") is None, origin
        finally:
            refused.close()
    proxied = "https://patrol.example.gov"  # the settings' origin behind a proxy
    stream = Stream(events, cookie, origin=proxied)
    try:
        assert stream.status == 200
        assert stream.header("Access-Control-Allow-Origin") == proxied
    finally:
        stream.close()


def test_an_account_holds_five_streams_the_oldest_ends(events, demo_world):
    _, _, cookie = _signed_in(events, demo_world, "ev-many")
    _, _, other = _signed_in(events, demo_world, "ev-many-other")
    theirs = Stream(events, other)
    streams = [Stream(events, cookie)]
    try:
        assert streams[0].status == 200 and not streams[0].ends_within(3 * BEAT_S)
        streams += [Stream(events, cookie) for _ in range(5)]
        assert all(s.status == 200 for s in streams)
        assert streams[0].ends_within(5.0), "the oldest stream stays open"
        # and its page does not connect again at once (to end the next oldest, and so on)
        assert b"retry: 600000" in streams[0].read
        for s in (*streams[1:], theirs):  # the newest, and another account's, stay open
            assert not s.ends_within(2 * BEAT_S)
    finally:
        for s in (*streams, theirs):
            s.close()
