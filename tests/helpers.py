"""Small helpers shared by tests."""

from __future__ import annotations

import re
import time

import numpy as np
from sqlalchemy.engine import Engine

from benchmarks._common import count  # noqa: F401  (the tests count rows with it)

EARTH_R = 6_371_008.8


def haversine_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in metres (independent of the code under test)."""
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = (np.sin((lat2 - lat1) / 2) ** 2
         + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_R * np.arcsin(np.sqrt(a))


def id_number(seed: int) -> str:
    """A valid (GB 11643) but fictitious resident ID number."""
    from geo_patrol.privacy import id_check_digit

    first17 = f"150203{1970 + seed % 40:04d}{1 + seed % 12:02d}{1 + seed % 28:02d}{seed % 1000:03d}"
    return first17 + id_check_digit(first17)


def write_roster(path, people, *, encoding="utf-8"):
    """A roster CSV of (number, name, phone, occupation) rows with valid ID numbers."""
    lines = ["number,name,phone,id_number,occupation,teams,skills,duties,community,active"]
    for i, (number, name, phone, occupation) in enumerate(people):
        lines.append(f"{number},{name},{phone},{id_number(i + 1)},{occupation},"
                     f"巡逻队,急救,巡逻防控,,1")
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path

#: A mainland mobile number or an 18-character ID number standing alone: not the digits of a
#: decimal such as a coordinate, nor a run inside a longer ASCII token (map documents carry
#: random hex element ids), nor a negative number (the street graph's ids of cut points).
#: Chinese text around a number still matches.
PHONE_PATTERN = r"(?<![0-9A-Za-z.\-])1[3-9]\d{9}(?![0-9A-Za-z])"
ID_PATTERN = r"(?<![0-9A-Za-z.\-])\d{17}[\dX](?![0-9A-Za-z])"


PASSWORD = "correct horse battery"


def make_user(engine: Engine, username: str, role: str, **options) -> str:
    """Create an account (password :data:`PASSWORD`) and return its username."""
    from geo_patrol.store.accounts import add_user

    add_user(engine, username, role, PASSWORD, **options)
    return username


def sign_in(client, username: str, password: str = PASSWORD, *, city: str | None = None
            ) -> str:
    """Sign a Flask test client in through the login form (to ``city``, or the form's
    default); returns the CSRF token to post forms with."""
    import re

    page = client.get("/login", query_string={"city": city} if city else None
                      ).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"username": username, "password": password, "csrf_token": token}
    if city:
        form["city"] = city
    resp = client.post("/login", data=form)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    # signing in starts a new session, with a new token
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def follow_job(client, location: str, timeout_s: float = 240.0) -> tuple[str, object]:
    """Open ``location`` as a browser would while a job it shows runs (the page polls the
    job's status and reloads when it has finished): the final address and response."""
    deadline = time.monotonic() + timeout_s
    while True:
        resp = client.get(location)
        if resp.status_code in (301, 302, 303):
            location = resp.headers["Location"]
            continue
        found = re.search(r'data-job="([^"]+)"', resp.get_data(as_text=True))
        if found is None:
            return location, resp
        while client.get(found.group(1)).get_json()["state"] in ("queued", "running"):
            assert time.monotonic() < deadline, f"the job of {location} did not finish"
            time.sleep(0.2)
