"""Personal data: ID-number checks, encryption at rest, keyed hashes and masking.

ID numbers are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) and stored beside an
HMAC-SHA256 of the normalised number, so the same person is recognised without decrypting.
Both keys are derived (HKDF) from one secret: ``GEO_PATROL_SECRET_KEY``, or for the embedded
default a random secret kept in ``<data_dir>/secret.key`` (mode 600).
"""

from __future__ import annotations

import base64
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from geo_patrol.errors import GeoPatrolError
from geo_patrol.settings import Settings

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")
_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE_RE = re.compile(r"^0\d{2,3}-?\d{7,8}$")


def id_number_problem(value: str) -> str | None:
    """Why ``value`` is not a valid resident ID number (GB 11643-1999), or ``None``."""
    v = value.strip().upper()
    if not _ID_RE.match(v):
        return "an ID number has 17 digits and a check digit (0-9 or X)"
    total = sum(int(c) * w for c, w in zip(v[:17], _ID_WEIGHTS))
    if _ID_CHECK[total % 11] != v[17]:
        return f"check digit should be {_ID_CHECK[total % 11]}, not {v[17]} (GB 11643)"
    month, day = int(v[10:12]), int(v[12:14])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return "the birth date inside the ID number is not a date"
    return None


def id_check_digit(first17: str) -> str:
    """The GB 11643 check digit for the first 17 digits of an ID number."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS)) % 11]


def normalise_phone(value: str) -> str | None:
    """A mainland mobile (11 digits) or landline number without spaces, or ``None`` if invalid."""
    v = re.sub(r"[\s()（）]", "", value)
    v = re.sub(r"^(\+86|0086)-?", "", v)
    if _MOBILE_RE.match(v.replace("-", "")):
        return v.replace("-", "")
    if _LANDLINE_RE.match(v):
        return v
    return None


def mask_phone(value: str | None) -> str | None:
    """``13812341234`` → ``138****1234``."""
    if not value:
        return value
    return value[:3] + "*" * max(len(value) - 7, 0) + value[-4:] if len(value) > 7 else "****"


def mask_id_number(value: str | None) -> str | None:
    """``150203199001011234`` → ``1502**********1234``."""
    if not value:
        return value
    return value[:4] + "*" * (len(value) - 8) + value[-4:] if len(value) > 8 else "****"


def mask_name(value: str | None) -> str | None:
    """``张三丰`` → ``张**``; keeps the family name only."""
    if not isinstance(value, str) or not value:
        return None
    return value[0] + "*" * (len(value) - 1)


@dataclass(frozen=True)
class Vault:
    """Encrypts ID numbers and computes their keyed hashes."""

    _fernet: Fernet
    _hmac_key: bytes

    @classmethod
    def from_secret(cls, secret: str | bytes) -> Vault:
        return cls(Fernet(base64.urlsafe_b64encode(derived_key(secret,
                                                               b"geo-patrol id encryption"))),
                   derived_key(secret, b"geo-patrol id hash"))

    @classmethod
    def from_settings(cls, settings: Settings) -> Vault:
        return cls.from_secret(deployment_secret(settings))

    def encrypt(self, id_number: str) -> bytes:
        return self._fernet.encrypt(id_number.strip().upper().encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(token)).decode()
        except InvalidToken:
            msg = "cannot decrypt: the secret key differs from the one the data was stored with"
            raise GeoPatrolError(msg) from None

    def keyed_hash(self, id_number: str) -> bytes:
        return hmac.new(self._hmac_key, id_number.strip().upper().encode(), sha256).digest()


def derived_key(secret: str | bytes, info: bytes) -> bytes:
    """A 32-byte key for one purpose (``info``), derived from the deployment secret (HKDF)."""
    raw = secret.encode() if isinstance(secret, str) else secret
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(raw)


def deployment_secret(settings: Settings) -> bytes:
    """``GEO_PATROL_SECRET_KEY``, or the embedded deployment's generated one."""
    if settings.secret_key:
        return settings.secret_key.encode()
    return _local_secret(settings.data_dir / "secret.key")


def _local_secret(path: Path) -> bytes:
    """The embedded deployment's secret, created (mode 600) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first
            return path.read_bytes().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_bytes().strip()
