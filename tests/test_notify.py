"""Notifications: the outbox, real deliveries through apprise to local receivers (HTTP, SMTP),
retries with back-off, a sender killed mid-batch, Web Push decrypted with the subscription's
keys, quiet hours, and the channels' command line."""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa

from tests.helpers import make_user, sign_in


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A local HTTP server standing in for a gateway or a push service: it records each
    request's path, headers and body, fails the first ``fail`` requests with 500, and takes
    ``delay_s`` to answer (after the body is read), with ``location`` as its Location. A request
    whose body stops short of its Content-Length (its sender killed mid-write) is not a
    delivery, as for a real gateway, and is not recorded."""

    def __init__(self, *, fail: int = 0, delay_s: float = 0.0, status: int = 200,
                 location: str | None = None) -> None:
        self.requests: list[dict] = []
        self.fail, self.delay_s, self.status = fail, delay_s, status
        self.location = location  # sent with every answer (a redirect's target)
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:  # the sender died mid-request: nothing was delivered
                    self.close_connection = True
                    return
                with outer.lock:
                    outer.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                           "body": body})
                    failing = len(outer.requests) <= outer.fail
                time.sleep(outer.delay_s)
                self.send_response(500 if failing else outer.status)
                if outer.location:
                    self.send_header("Location", outer.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", _free_port()), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self) -> list[dict]:
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def clean(demo_world):
    """No message, delivery, channel or rule left from another test."""
    with demo_world["engine"].begin() as conn:
        conn.execute(sa.text("TRUNCATE notify_outbox, notify_messages, notify_channels, "
                             "notify_rules, push_subscriptions, notices CASCADE"))
    return demo_world


def _volunteers(engine, n: int, offset: int = 0) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT id, number FROM volunteers WHERE active ORDER BY id LIMIT :n OFFSET :o"),
            {"n": n, "o": offset})]


def _states(engine, kind: str, ref: str) -> list[str]:
    from geo_patrol.services.notify import states

    return list(states(engine, kind, ref)["state"])


def _drain(sender, engine, kind: str, ref: str, timeout_s: float = 30.0,
           pending: frozenset[str] = frozenset({"queued", "sent"})) -> list[str]:
    """Send until no delivery of (kind, ref) is in a ``pending`` state."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        sender.run_once()
        found = _states(engine, kind, ref)
        if not pending & set(found):
            return found
        time.sleep(0.05)
    return _states(engine, kind, ref)


def test_enqueue_is_idempotent_and_reaches_each_channel(clean):
    from geo_patrol.services import notify

    engine, settings = clean["engine"], clean["settings"]
    (v1, n1), (v2, n2), (v3, _) = _volunteers(engine, 3)
    notify.add_channel(engine, settings, scope="volunteer", volunteer=n1,
                       url="json://127.0.0.1:9/a", by="test")
    notify.add_channel(engine, settings, scope="volunteer", volunteer=n1,
                       url="ntfy://127.0.0.1:9/b", by="test")
    notify.add_channel(engine, settings, scope="city", url="json://127.0.0.1:9/city", by="test")
    with engine.begin() as conn:
        queued = notify.enqueue(conn, volunteer_ids=[v1, v2, v3], kind="notice", ref="n-1",
                                title="寻人", body="走失老人")
    # the volunteer's own two channels; the two others through the city's channel
    assert queued == 4
    with engine.begin() as conn:
        again = notify.enqueue(conn, volunteer_ids=[v1, v2, v3], kind="notice", ref="n-1",
                               title="寻人", body="走失老人")
    assert again == 0
    assert sorted(_states(engine, "notice", "n-1")) == ["queued"] * 4
    with engine.begin() as conn:  # rolled back with the caller's transaction: nothing kept
        notify.enqueue(conn, volunteer_ids=[v1], kind="notice", ref="n-2", title="t", body="b")
        conn.rollback()
    assert _states(engine, "notice", "n-2") == []
    with pytest.raises(Exception, match="notification URL"):
        notify.add_channel(engine, settings, scope="city", url="nonsense://x", by="test")


def test_delivered_through_apprise_to_an_http_gateway(clean):
    from geo_patrol.services.notify import SendPolicy, Sender, enqueue

    engine, settings = clean["engine"], clean["settings"]
    receiver = Receiver()
    try:
        (v1, n1), = _volunteers(engine, 1)
        from geo_patrol.services.notify import add_channel

        add_channel(engine, settings, scope="volunteer", volunteer=n1,
                    url=f"json://127.0.0.1:{receiver.port}/hook", by="test")
        with engine.begin() as conn:
            assert enqueue(conn, volunteer_ids=[v1], kind="report", ref="report 7",
                           title="报告已核实", body="谢谢你的报告", url="/me") == 1
        sender = Sender(engine, settings, SendPolicy(base_s=0.1))
        assert _drain(sender, engine, "report", "report 7") == ["delivered"]
        sender.close()
        body, = receiver.bodies()
        assert body["title"] == "报告已核实"
        assert body["message"].startswith("谢谢你的报告") and "/me" in body["message"]
        assert receiver.requests[0]["path"] == "/hook"
    finally:
        receiver.close()


def test_a_group_channel_gets_one_post_per_message(clean):
    """A ring called through a group's chat (the city's channel here) is one post naming the
    volunteers called, while each person's delivery still reads delivered."""
    from geo_patrol.services.notify import SendPolicy, Sender, add_channel, enqueue, states

    engine, settings = clean["engine"], clean["settings"]
    receiver = Receiver()
    try:
        people = _volunteers(engine, 3, offset=50)
        (own, own_number), = _volunteers(engine, 1, offset=53)
        add_channel(engine, settings, scope="city", url=f"json://127.0.0.1:{receiver.port}/group",
                    by="test")
        add_channel(engine, settings, scope="volunteer", volunteer=own_number,
                    url=f"json://127.0.0.1:{receiver.port}/own", by="test")
        with engine.begin() as conn:
            assert enqueue(conn, volunteer_ids=[v for v, _ in people] + [own],
                           kind="callout", ref="callout 77", title="出警召集",
                           body="纠纷 · 两人争执", url="/me") == 4
        sender = Sender(engine, settings, SendPolicy(base_s=0.1))
        assert _drain(sender, engine, "callout", "callout 77") == ["delivered"] * 4
        sender.close()
        paths = sorted(r["path"] for r in receiver.requests)
        assert paths == ["/group", "/own"]  # two posts for four deliveries
        group = next(json.loads(r["body"]) for r in receiver.requests if r["path"] == "/group")
        assert group["message"].startswith("纠纷 · 两人争执\n/me")
        assert all(number in group["message"] for _, number in people)
        assert own_number not in group["message"]
        assert "3 volunteers" in group["message"]
        assert set(states(engine, "callout", "callout 77")["attempts"]) == {1}
    finally:
        receiver.close()


def test_retried_with_back_off_after_a_receiver_that_fails_twice(clean):
    from geo_patrol.services.notify import SendPolicy, Sender, add_channel, enqueue, states

    engine, settings = clean["engine"], clean["settings"]
    receiver = Receiver(fail=2)
    try:
        (v1, n1), = _volunteers(engine, 1, offset=1)
        add_channel(engine, settings, scope="volunteer", volunteer=n1,
                    url=f"json://127.0.0.1:{receiver.port}/", by="test")
        with engine.begin() as conn:
            enqueue(conn, volunteer_ids=[v1], kind="points", ref="payout 3", title="积分",
                    body="12 积分")
        sender = Sender(engine, settings, SendPolicy(base_s=0.3))
        sender.run_once()
        first = states(engine, "points", "payout 3").iloc[0]
        assert first["state"] == "queued" and first["attempts"] == 1
        assert first["last_error"]  # apprise's reason is kept
        with engine.connect() as conn:
            wait = conn.execute(sa.text(
                "SELECT extract(epoch FROM next_try_at - now()) FROM notify_outbox")).scalar()
        assert 0.05 < wait <= 0.3  # the first back-off
        assert sender.run_once() == 0  # not due yet
        assert _drain(sender, engine, "points", "payout 3") == ["delivered"]
        sender.close()
        done = states(engine, "points", "payout 3").iloc[0]
        assert done["attempts"] == 3 and len(receiver.requests) == 3
        assert done["last_error"] is None
    finally:
        receiver.close()


def test_gives_up_after_the_last_attempt(clean):
    from geo_patrol.services.notify import SendPolicy, Sender, add_channel, enqueue, states

    engine, settings = clean["engine"], clean["settings"]
    receiver = Receiver(fail=99)
    try:
        (v1, n1), = _volunteers(engine, 1, offset=2)
        add_channel(engine, settings, scope="volunteer", volunteer=n1,
                    url=f"json://127.0.0.1:{receiver.port}/", by="test")
        with engine.begin() as conn:
            enqueue(conn, volunteer_ids=[v1], kind="task", ref="rota 1", title="t", body="b")
        sender = Sender(engine, settings, SendPolicy(base_s=0.05, max_attempts=3))
        assert _drain(sender, engine, "task", "rota 1") == ["failed"]
        sender.close()
        assert states(engine, "task", "rota 1").iloc[0]["attempts"] == 3
        assert len(receiver.requests) == 3
    finally:
        receiver.close()


def test_delivered_by_e_mail_to_an_smtp_server(clean):
    from aiosmtpd.controller import Controller

    from geo_patrol.services.notify import SendPolicy, Sender, add_channel, enqueue

    class Handler:
        def __init__(self) -> None:
            self.messages: list[tuple[str, list[str], bytes]] = []

        async def handle_DATA(self, server, session, envelope):  # noqa: ANN001,N802
            self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
            return "250 Message accepted for delivery"

    engine, settings = clean["engine"], clean["settings"]
    handler = Handler()
    port = _free_port()
    smtp = Controller(handler, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        (v1, n1), = _volunteers(engine, 1, offset=3)
        add_channel(engine, settings, scope="volunteer", volunteer=n1, by="test",
                    url=f"mailto://127.0.0.1:{port}?from=patrol@example.org"
                        f"&to=volunteer@example.org&mode=insecure")
        with engine.begin() as conn:
            enqueue(conn, volunteer_ids=[v1], kind="notice", ref="notice 9",
                    title="Missing person", body="An old man in a blue coat")
        sender = Sender(engine, settings, SendPolicy(base_s=0.1))
        assert _drain(sender, engine, "notice", "notice 9") == ["delivered"]
        sender.close()
        (sender_address, to, content), = handler.messages
        assert to == ["volunteer@example.org"]
        text = content.decode("utf-8", "replace")
        assert "Missing person" in text and "blue coat" in text
    finally:
        smtp.stop()


def test_quiet_hours_hold_messages_but_not_call_outs(clean):
    from zoneinfo import ZoneInfo

    from geo_patrol.services.notify import (SendPolicy, Sender, add_channel, enqueue,
                                            set_rules, states)

    engine, settings = clean["engine"], clean["settings"]
    receiver = Receiver()
    try:
        (v1, n1), = _volunteers(engine, 1, offset=4)
        add_channel(engine, settings, scope="volunteer", volunteer=n1,
                    url=f"json://127.0.0.1:{receiver.port}/", by="test")
        local = dt.datetime.now(ZoneInfo(settings.timezone))
        start = (local - dt.timedelta(hours=1)).strftime("%H:%M")
        end = (local + dt.timedelta(hours=1)).strftime("%H:%M")
        set_rules(engine, v1, on_duty_only=False, quiet_start=start, quiet_end=end)
        with engine.begin() as conn:
            enqueue(conn, volunteer_ids=[v1], kind="notice", ref="notice 1", title="n",
                    body="a notice")
            enqueue(conn, volunteer_ids=[v1], kind="callout", ref="callout 1", title="c",
                    body="a call-out")
        sender = Sender(engine, settings, SendPolicy())
        sender.run_once()
        sender.close()
        assert states(engine, "callout", "callout 1").iloc[0]["state"] == "delivered"
        held = states(engine, "notice", "notice 1").iloc[0]
        assert held["state"] == "queued" and held["last_error"] == "quiet hours"
        with engine.connect() as conn:
            at = conn.execute(sa.text(
                "SELECT o.next_try_at FROM notify_outbox o JOIN notify_messages m "
                "ON m.id = o.message_id WHERE m.kind = 'notice'")).scalar()
        # held until the end of the quiet hours, the city's local time
        assert at.astimezone(ZoneInfo(settings.timezone)).strftime("%H:%M") == end
        assert [b["title"] for b in receiver.bodies()] == ["c"]
    finally:
        receiver.close()


def test_nothing_sent_twice_after_a_sender_is_killed_mid_batch(clean):
    """A real sender process (``geo-patrol notify send``) is killed with SIGKILL while it
    hands a batch to a slow gateway; a second sender finishes the batch once the lease runs
    out, and no message reaches the gateway twice."""
    from geo_patrol.services.notify import SendPolicy, Sender, add_channel, enqueue, states

    engine, settings = clean["engine"], clean["settings"]
    receiver = Receiver(delay_s=0.4)
    people = _volunteers(engine, 30, offset=5)
    try:
        add_channel(engine, settings, scope="city", url=f"json://127.0.0.1:{receiver.port}/",
                    by="test")
        with engine.begin() as conn:
            for vid, number in people:  # one message each, told apart by its body
                enqueue(conn, volunteer_ids=[vid], kind="callout", ref="callout 99",
                        title="call-out", body=f"to {number}")
        # the deployment names its gateway inside the network, for the sender too
        env = {**os.environ, "DATABASE_URL": settings.database_url,
               "GEO_PATROL_DATA_DIR": str(settings.data_dir), "GEO_PATROL_CITY": settings.city,
               "GEO_PATROL_CHANNEL_HOSTS": settings.channel_hosts}
        proc = subprocess.Popen(
            [sys.executable, "-m", "geo_patrol.cli", "notify", "send", "--lease", "3"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while len(receiver.requests) < 5 and time.monotonic() < deadline:
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
                time.sleep(0.02)
            assert len(receiver.requests) >= 5
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        killed = states(engine, "callout", "callout 99")
        assert (killed["state"] == "queued").any()  # the batch was cut short
        unknown = int((killed["state"] == "sent").sum())  # handed over when it died
        receiver.delay_s = 0.0
        sender = Sender(engine, settings, SendPolicy(lease_s=3))
        after = _drain(sender, engine, "callout", "callout 99", timeout_s=60,
                       pending=frozenset({"queued"}))
        sender.close()
        bodies = [b["message"] for b in receiver.bodies()]
        assert len(bodies) == len(set(bodies)), "a message reached the gateway twice"
        # every message was handed over once: those the killed sender had started stay
        # 'sent' (never handed over again), the rest were delivered by the second sender
        assert after.count("delivered") + after.count("sent") == len(people)
        assert after.count("sent") == unknown
        assert set(bodies) <= {f"to {n}" for _, n in people}
        assert len(bodies) >= len(people) - unknown
    finally:
        receiver.close()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_web_push_encrypted_for_the_subscription(clean):
    """A message goes to a browser's push subscription encrypted by pywebpush (aes128gcm,
    signed with the deployment's VAPID key); the test decrypts it with the subscription's
    own keys, as the browser would."""
    import http_ece
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from geo_patrol.access import Principal, Role
    from geo_patrol.services.notify import (SendPolicy, Sender, enqueue, subscribe,
                                            vapid_keys)

    engine, settings = clean["engine"], clean["settings"]
    receiver = Receiver(status=201)
    try:
        (v1, _), = _volunteers(engine, 1, offset=40)
        browser_key = ec.generate_private_key(ec.SECP256R1())
        p256dh = _b64url(browser_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
        auth = os.urandom(16)
        me = Principal(id=0, username="v", role=Role.VOLUNTEER, volunteer_id=v1)
        # the local receiver stands for a push service the city's settings name
        settings = settings.with_(push_hosts="127.0.0.1")
        subscribe(engine, settings, me,
                  {"endpoint": f"http://127.0.0.1:{receiver.port}/push/abc",
                   "keys": {"p256dh": p256dh, "auth": _b64url(auth)}})
        with engine.begin() as conn:
            assert enqueue(conn, volunteer_ids=[v1], kind="callout", ref="callout 5",
                           title="出警召集", body="纠纷 · 两人争执", url="/me") == 1
        sender = Sender(engine, settings, SendPolicy(base_s=0.1))
        assert _drain(sender, engine, "callout", "callout 5") == ["delivered"]
        sender.close()
        request, = receiver.requests
        assert request["path"] == "/push/abc"
        assert request["headers"]["content-encoding"] == "aes128gcm"
        public = vapid_keys(engine)[1]
        assert f"k={public}" in request["headers"]["authorization"]
        clear = http_ece.decrypt(request["body"], private_key=browser_key,
                                 auth_secret=auth, version="aes128gcm")
        message = json.loads(clear)
        assert message == {"title": "出警召集", "body": "纠纷 · 两人争执", "url": "/me",
                           "kind": "callout"}
        assert vapid_keys(engine) == vapid_keys(engine)  # made once per deployment
    finally:
        receiver.close()


#: A public address (written as an address: the tests resolve no names) standing for a
#: push service on the internet.
PUBLIC = "https://93.184.215.14/push/"
#: Endpoints a browser may not make the server post to, the city's settings naming none.
INSIDE = ["http://127.0.0.1:{port}/push/a", "https://127.0.0.1:{port}/push/b",
          "https://10.1.2.3/push", "https://192.168.1.1/push", "https://169.254.169.254/latest",
          "https://[::1]/push", "https://[::ffff:127.0.0.1]/push", "https://localhost/push",
          "https://100.64.0.1/push", "https://0.0.0.0/push", "http://93.184.215.14/push",
          "https://user:pw@93.184.215.14/push", "ftp://93.184.215.14/push",
          "https://nowhere.invalid/push", "https:///push"]
#: What the phone's page says of an address inside the network, in each language.
INSIDE_WORDS = {"zh": "内部网络", "en": "points inside the network"}


def _subscription(endpoint: str) -> dict:
    """A browser's subscription to ``endpoint``, with keys of its own."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    public = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return {"endpoint": endpoint, "keys": {"p256dh": _b64url(public),
                                           "auth": _b64url(os.urandom(16))}}


@pytest.fixture
def phones(clean):
    """The web app (its settings naming no push service) and two volunteers signed in on
    their phones: (test client, CSRF token, volunteer id) each."""
    from web import create_app

    from tests.helpers import make_user, sign_in

    engine = clean["engine"]
    app = create_app({"GEO_PATROL_SETTINGS": clean["settings"], "TESTING": True})
    out = []
    for i, (vid, number) in enumerate(_volunteers(engine, 2, offset=50)):
        user = f"push-{i}-{time.time_ns()}"
        make_user(engine, user, "volunteer", volunteer=number)
        client = app.test_client()
        out.append((client, sign_in(client, user), vid))
    return out


def _push(phone, endpoint: str, lang: str = "en"):  # noqa: ANN202
    client, token, _ = phone
    return client.post(f"/me/push?lang={lang}", json=_subscription(endpoint),
                       headers={"X-CSRFToken": token, "Accept": "application/json"})


def _endpoints(engine, volunteer_id: int) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT endpoint FROM push_subscriptions WHERE volunteer_id = :v ORDER BY id"),
            {"v": volunteer_id}).scalars())


def test_a_push_subscription_names_a_public_https_push_service(clean, phones):
    """A volunteer's browser names the address the server posts their messages to: one
    inside the server's network (loopback, private, link-local, metadata), plain http or no
    URL at all is refused, in the page's language, and nothing kept; a public https one is
    kept."""
    engine = clean["engine"]
    receiver = Receiver(status=201)
    try:
        for endpoint in INSIDE:
            answer = _push(phones[0], endpoint.format(port=receiver.port))
            assert answer.status_code == 400, (endpoint, answer.get_data(as_text=True))
        for lang, words in INSIDE_WORDS.items():
            answer = _push(phones[0], f"https://127.0.0.1:{receiver.port}/push/c", lang)
            assert answer.status_code == 400 and words in answer.get_json()["message"]
        assert _endpoints(engine, phones[0][2]) == []
        assert _push(phones[0], PUBLIC + "ok").status_code == 201
        assert _endpoints(engine, phones[0][2]) == [PUBLIC + "ok"]
        assert receiver.requests == []
    finally:
        receiver.close()


def test_a_push_service_the_city_names_may_be_inside_and_plain_http(clean):
    from geo_patrol.access import Principal, Role
    from geo_patrol.errors import InputError
    from geo_patrol.services.notify import subscribe

    engine, settings = clean["engine"], clean["settings"]
    (v1, _), = _volunteers(engine, 1, offset=52)
    me = Principal(id=0, username="v", role=Role.VOLUNTEER, volunteer_id=v1)
    listed = settings.with_(push_hosts="push.intranet, 127.0.0.1:8443")
    subscribe(engine, listed, me, _subscription("http://127.0.0.1:8443/push/a"))
    with pytest.raises(InputError):  # the host named on another port only
        subscribe(engine, listed, me, _subscription("http://127.0.0.1:8444/push/b"))
    with pytest.raises(InputError):  # named for another city, not this one
        subscribe(engine, settings, me, _subscription("http://127.0.0.1:8443/push/c"))
    assert _endpoints(engine, v1) == ["http://127.0.0.1:8443/push/a"]


def test_a_volunteer_keeps_five_push_subscriptions_the_newest(clean, phones):
    engine = clean["engine"]
    for i in range(7):
        assert _push(phones[0], f"{PUBLIC}{i}").status_code == 201
    assert _push(phones[0], f"{PUBLIC}2").status_code == 201  # sent again: now the newest
    assert sorted(_endpoints(engine, phones[0][2])) == [f"{PUBLIC}{i}" for i in (2, 3, 4, 5, 6)]


def test_another_volunteers_push_subscription_stays_theirs(clean, phones):
    """Knowing another's endpoint takes nothing over: their messages do not move to you."""
    engine = clean["engine"]
    mine, theirs = phones
    assert _push(theirs, PUBLIC + "theirs").status_code == 201
    for lang, words in (("zh", "另一个账号"), ("en", "another account")):
        answer = _push(mine, PUBLIC + "theirs", lang)
        assert answer.status_code == 409 and words in answer.get_json()["message"]
    assert _endpoints(engine, theirs[2]) == [PUBLIC + "theirs"]
    assert _endpoints(engine, mine[2]) == []


def _stored_subscription(engine, volunteer_id: int, endpoint: str) -> None:
    """A subscription kept as it was before endpoints were checked."""
    keys = _subscription(endpoint)["keys"]
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO push_subscriptions (volunteer_id, endpoint, p256dh, auth) "
            "VALUES (:v, :e, :p, :a)"),
            {"v": volunteer_id, "e": endpoint, "p": keys["p256dh"], "a": keys["auth"]})


def test_the_sender_posts_to_no_address_inside(clean):
    """A subscription kept before the endpoints were checked (or whose host name points
    inside by now) is checked again as it is sent: nothing posted, the delivery failed
    without the answer of anything inside, the subscription dropped."""
    from geo_patrol.services.notify import SendPolicy, Sender, enqueue, states

    engine, settings = clean["engine"], clean["settings"]
    inside = Receiver(status=201)
    try:
        (v1, _), = _volunteers(engine, 1, offset=54)
        _stored_subscription(engine, v1, f"http://127.0.0.1:{inside.port}/push/x")
        with engine.begin() as conn:
            enqueue(conn, volunteer_ids=[v1], kind="callout", ref="callout inside",
                    title="t", body="b")
        sender = Sender(engine, settings, SendPolicy(base_s=0.05, max_attempts=1))
        assert _drain(sender, engine, "callout", "callout inside") == ["failed"]
        sender.close()
        error = str(states(engine, "callout", "callout inside")["last_error"].iloc[0])
        assert "201" not in error and "not posted" in error, error
        assert inside.requests == []
        assert _endpoints(engine, v1) == []
    finally:
        inside.close()


def test_a_channel_whose_host_points_inside_by_now_is_not_posted_to(clean):
    """A channel is checked again as each message is sent: a host that resolves inside the
    network by then (or a gateway the settings no longer name) gets nothing, and the
    delivery fails saying why."""
    from geo_patrol.services.notify import SendPolicy, Sender, add_channel, enqueue, states

    engine, settings = clean["engine"], clean["settings"]
    inside = Receiver()
    try:
        (v1, n1), = _volunteers(engine, 1, offset=55)
        add_channel(engine, settings, scope="volunteer", volunteer=n1,
                    url=f"json://127.0.0.1:{inside.port}/hook", by="test")  # named: kept
        with engine.begin() as conn:
            enqueue(conn, volunteer_ids=[v1], kind="callout", ref="callout rebound",
                    title="t", body="b")
        sender = Sender(engine, settings.with_(channel_hosts=""),
                        SendPolicy(base_s=0.05, max_attempts=3))
        assert _drain(sender, engine, "callout", "callout rebound") == ["failed"]
        sender.close()
        error = str(states(engine, "callout", "callout rebound")["last_error"].iloc[0])
        assert "not posted" in error and "inside the network" in error, error
        assert inside.requests == []
    finally:
        inside.close()


def test_a_push_services_redirect_is_not_followed(clean):
    """A push service the city names answering with a redirect (to an address inside, say):
    the answer is a failure, the address it names never reached."""
    from geo_patrol.services.notify import SendPolicy, Sender, enqueue

    engine, settings = clean["engine"], clean["settings"]
    target = Receiver(status=201)
    redirecting = Receiver(status=307, location=f"http://127.0.0.1:{target.port}/stolen")
    try:
        (v2, _), = _volunteers(engine, 1, offset=55)
        _stored_subscription(engine, v2, f"http://127.0.0.1:{redirecting.port}/push/x")
        with engine.begin() as conn:
            enqueue(conn, volunteer_ids=[v2], kind="callout", ref="callout redirected",
                    title="t", body="b")
        sender = Sender(engine, settings.with_(push_hosts="127.0.0.1"),
                        SendPolicy(base_s=0.05, max_attempts=1))
        assert _drain(sender, engine, "callout", "callout redirected") == ["failed"]
        sender.close()
        assert len(redirecting.requests) == 1 and target.requests == []
    finally:
        target.close()
        redirecting.close()


def test_a_push_host_resolved_inside_as_the_message_is_sent_is_not_connected_to(clean):
    """The endpoint's host is checked before sending, then resolved again to connect: a name
    switched to an address inside the network meanwhile is refused as the connection opens,
    before a byte is sent; a host the city's settings name is connected to."""
    from geo_patrol.services.notify import ChannelError, send_webpush, vapid_keys

    engine = clean["engine"]
    inside = Receiver(status=201)
    try:
        keys = _subscription(f"http://127.0.0.1:{inside.port}/push/x")["keys"]
        delivery = {"endpoint": f"http://127.0.0.1:{inside.port}/push/x", "title": "t",
                    "body": "b", "url": "/me", "kind": "callout", **keys}
        with pytest.raises(ChannelError) as refused:
            send_webpush(delivery, vapid_keys(engine), contact="mailto:ops@example.org",
                         timeout_s=5)
        assert refused.value.final and "inside the network" in str(refused.value)
        assert inside.requests == []
        send_webpush(delivery, vapid_keys(engine), contact="mailto:ops@example.org",
                     timeout_s=5, inside=True)
        assert [r["path"] for r in inside.requests] == ["/push/x"]
    finally:
        inside.close()


def test_channels_and_rules_from_the_command_line(clean, cli_runner=None):
    from click.testing import CliRunner

    from geo_patrol.cli import cli

    engine, settings = clean["engine"], clean["settings"]
    (v1, n1), = _volunteers(engine, 1, offset=41)
    env = {"DATABASE_URL": settings.database_url, "GEO_PATROL_DATA_DIR": str(settings.data_dir),
           "GEO_PATROL_CITY": settings.city, "GEO_PATROL_CHANNEL_HOSTS": "127.0.0.1"}
    runner = CliRunner()
    out = runner.invoke(cli, ["notify", "channel-add", "volunteer",
                              "ntfy://secret-token@127.0.0.1/alerts", "--volunteer", n1],
                        env=env)
    assert out.exit_code == 0, out.output
    listed = runner.invoke(cli, ["notify", "channels"], env=env)
    assert listed.exit_code == 0 and n1 in listed.output
    assert "secret-token" not in listed.output  # the URL's secrets are never shown
    bad = runner.invoke(cli, ["notify", "rules", n1, "--quiet", "22:00"], env=env)
    assert bad.exit_code == 1 and "HH:MM-HH:MM" in bad.output
    ok = runner.invoke(cli, ["notify", "rules", n1, "--quiet", "22:00-07:00"], env=env)
    assert ok.exit_code == 0, ok.output
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT quiet_start::text, quiet_end::text FROM "
                                    "notify_rules WHERE volunteer_id = :v"),
                            {"v": v1}).one() == ("22:00:00", "07:00:00")


@pytest.mark.parametrize("url", [
    "json://127.0.0.1:9999/internal-admin", "form://10.1.2.3/", "xml://[::1]:8080/",
    "gotify://169.254.169.254/token", "mailto://user:pass@example.com?smtp=192.168.1.5"])
def test_a_channel_is_no_way_into_the_servers_own_network(clean, url):
    """A channel's gateway (or SMTP server) at an address inside the network is refused when
    it is kept, unless the deployment names the host (GEO_PATROL_CHANNEL_HOSTS); nothing is
    kept, and the command's page says why in its language, with the host."""
    from geo_patrol.errors import InputError
    from geo_patrol.services import notify

    engine, settings = clean["engine"], clean["settings"].with_(channel_hosts="")
    with pytest.raises(InputError, match="inside the network") as err:
        notify.add_channel(engine, settings, scope="city", url=url, by="test")
    assert err.value.values["host"] in url
    with engine.connect() as conn:
        assert not conn.execute(sa.text("SELECT count(*) FROM notify_channels")).scalar_one()
    named = settings.with_(channel_hosts=f"gw.intranet, {err.value.values['host']}")
    assert notify.add_channel(engine, named, scope="city", url=url, by="test")


def test_the_command_is_told_a_channel_points_inside(clean):
    from web import create_app

    engine = clean["engine"]
    app = create_app({"GEO_PATROL_SETTINGS": clean["settings"].with_(channel_hosts=""),
                      "TESTING": True})
    make_user(engine, "ssrf-cmd", "command")
    client = app.test_client()
    token = sign_in(client, "ssrf-cmd")
    for lang, said in (("zh", "该地址指向内部网络（127.0.0.1）"),
                       ("en", "This address points inside the network (127.0.0.1)")):
        resp = client.post(f"/notify/channels?lang={lang}", data={
            "csrf_token": token, "scope": "city", "label": "",
            "url": "json://127.0.0.1:9999/internal-admin"})
        assert resp.status_code == 400 and said in resp.get_data(as_text=True)
    with engine.connect() as conn:
        assert not conn.execute(sa.text("SELECT count(*) FROM notify_channels")).scalar_one()


def test_a_channel_for_a_station_or_volunteer_not_chosen_asks_for_one(clean):
    """A station's (or volunteer's) channel with none picked is asked for in words, the
    address kept; nothing is kept."""
    from web import create_app

    engine = clean["engine"]
    app = create_app({"GEO_PATROL_SETTINGS": clean["settings"], "TESTING": True})
    make_user(engine, "pick-cmd", "command")
    client = app.test_client()
    token = sign_in(client, "pick-cmd")
    for scope, said in (("station", "请选择派出所。"), ("volunteer", "请选择义警")):
        resp = client.post("/notify/channels?lang=zh", data={
            "csrf_token": token, "scope": scope, "station": "", "volunteer": "",
            "label": "", "url": "json://127.0.0.1:9/hook"})
        page = resp.get_data(as_text=True)
        assert resp.status_code == 400 and said in page and "“”" not in page
        assert 'value="json://127.0.0.1:9/hook"' in page
    with engine.connect() as conn:
        assert not conn.execute(sa.text("SELECT count(*) FROM notify_channels")).scalar_one()


def test_the_outbox_tells_when_each_message_last_changed_and_why(clean):
    """A message no channel reaches is failed from the start: its row tells the time it was
    (Baotou time) and the reason, under a heading that says "reason"."""
    import re
    from zoneinfo import ZoneInfo

    from geo_patrol.services.notify import enqueue
    from web import create_app

    engine = clean["engine"]
    (v1, n1), = _volunteers(engine, 1, offset=56)
    with engine.begin() as conn:
        enqueue(conn, volunteer_ids=[v1], kind="notice", ref="nobody", title="寻人",
                body="走失老人")
        created = conn.execute(sa.text("SELECT created_at FROM notify_messages "
                                       "WHERE ref = 'nobody'")).scalar_one()
    app = create_app({"GEO_PATROL_SETTINGS": clean["settings"], "TESTING": True})
    make_user(engine, "outbox-cmd", "command")
    client = app.test_client()
    sign_in(client, "outbox-cmd")
    page = client.get("/notify?lang=zh").get_data(as_text=True)
    head = re.findall(r"<th[^>]*>(?:<a[^>]*>)?([^<]*)", re.search(
        r'<table class="gp" id="outbox">.*?</thead>', page, re.S).group(0))
    assert head[-2:] == ["最近变化", "原因"], head
    row = re.search(rf'<tr data-state="failed">.*?{n1}.*?</tr>', page, re.S).group(0)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert cells[-2] == created.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%m-%d %H:%M")
    assert cells[-1] == "没有能送达此人的渠道", cells
    # the volunteer reads it in the app all the same, then answers: no longer "failed"
    from geo_patrol.access import Principal, Role
    from geo_patrol.services.notify import answered, read_notice

    with engine.connect() as conn:
        message_id = conn.execute(sa.text("SELECT id FROM notify_messages "
                                          "WHERE ref = 'nobody'")).scalar_one()
    read_notice(engine, Principal(id=0, username="v", role=Role.VOLUNTEER, volunteer_id=v1),
                message_id)
    for state, words in (("delivered", "已送达"), ("answered", "已回应")):
        if state == "answered":
            with engine.begin() as conn:
                answered(conn, kind="notice", ref="nobody", volunteer_id=v1)
        page = client.get("/notify?lang=zh").get_data(as_text=True)
        row = re.search(rf'<tr data-state="{state}">.*?{n1}.*?</tr>', page, re.S).group(0)
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        assert cells[4] == "已在应用内查看" and cells[5] == words and cells[-1] == "", cells
        listed = client.get(f"/notify?lang=zh&state={state}").get_data(as_text=True)
        assert n1 in listed

