"""Reports' photos and videos, by the SHA-256 of the bytes sent: the original (evidence,
never served), and the copy shown and its thumbnail (both without EXIF); for a video also
its ``clip``, the copy served without metadata (the copy shown is its poster).

Where they are kept is one small interface (:class:`MediaStore`: put, get, delete, exists,
by key): a directory (the data directory, by default) or an S3-compatible bucket
(``GEO_PATROL_MEDIA_URL=s3://bucket/prefix``) for a larger deployment. Keys are named by the
content hash (``ab/abcd….shown.jpg``), so a copy is written once and never changes.
"""

from __future__ import annotations

import importlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from geo_patrol.settings import Settings

#: The copies a photo has: the one shown and its thumbnail (the original is not among them:
#: it is never served).
COPIES = ("shown", "thumb")
#: A video's copy served without metadata (named by its container's extension).
CLIP = "clip"
#: The extensions an original may have (whichever a photo or video came in).
ORIGINAL_EXTENSIONS = ("jpg", "png", "webp", "mp4", "mov", "webm")
#: The extensions a clip may have.
CLIP_EXTENSIONS = ("mp4", "mov", "webm")
_SHA = re.compile(r"[0-9a-f]{64}")


class MediaStore(Protocol):
    """Where media are kept, by key (a relative name made by :func:`media_key`)."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes:
        """The bytes kept at ``key``; :class:`FileNotFoundError` when there are none."""
        ...

    def delete(self, keys: list[str]) -> None: ...

    def exists(self, key: str) -> bool: ...


class DirectoryStore:
    """Media as files under a directory (written atomically: a reader never sees half)."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)

    def get(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            self.path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path(key).exists()


def for_settings(settings: Settings) -> MediaStore:
    """The store :attr:`Settings.media_url` names: the data directory when unset, or
    ``s3://bucket/prefix`` (with ``s3_endpoint``, ``s3_key`` and ``s3_secret``)."""
    url = (settings.media_url or "").strip()
    if not url:
        return DirectoryStore(settings.media_dir)
    parts = urlsplit(url)
    if parts.scheme == "file":
        return DirectoryStore(Path(parts.path))
    if parts.scheme != "s3" or not parts.netloc:
        msg = f"GEO_PATROL_MEDIA_URL must be s3://bucket/prefix, not {url!r}"
        raise ValueError(msg)
    try:  # boto3 is the ``s3`` extra: only a deployment keeping media in a bucket needs it
        bucket = importlib.import_module("geo_patrol.store.bucket")
    except ImportError as exc:
        msg = "media in a bucket need boto3: pip install 'geo-patrol[s3]'"
        raise RuntimeError(msg) from exc
    return bucket.BucketStore(bucket.client(settings.s3_endpoint, settings.s3_key,
                                            settings.s3_secret), parts.netloc, parts.path)


def media_key(sha256: str, copy: str, extension: str = "jpg") -> str:
    """The key of a copy of a photo or video (``original``, ``shown``, ``thumb`` or, for a
    video, ``clip``)."""
    if not _SHA.fullmatch(sha256):
        msg = f"not a SHA-256: {sha256[:80]!r}"
        raise ValueError(msg)
    if copy == "original":
        name = f"{sha256}.{extension}"
    elif copy == CLIP:
        name = f"{sha256}.{copy}.{extension}"
    else:
        name = f"{sha256}.{copy}.jpg"
    return f"{sha256[:2]}/{name}"


def all_keys(sha256: str) -> list[str]:
    """Every key a photo or video may have (whichever extension its original came in)."""
    return [*(media_key(sha256, copy) for copy in COPIES),
            *(media_key(sha256, "original", ext) for ext in ORIGINAL_EXTENSIONS),
            *(media_key(sha256, CLIP, ext) for ext in CLIP_EXTENSIONS)]


def keep(store: MediaStore, sha256: str, copies: dict[str, tuple[bytes, str]]) -> list[str]:
    """Put each copy (``{copy: (bytes, extension)}``) once: an existing one is the same
    bytes (its name is their hash) and is left alone. Returns the keys written, so a caller
    whose transaction fails can take them back."""
    written = []
    for copy, (data, extension) in copies.items():
        key = media_key(sha256, copy, extension)
        if store.exists(key):
            continue
        store.put(key, data)
        written.append(key)
    return written


def forget(store: MediaStore, keys: list[str]) -> None:
    """Remove copies (those a failed transaction wrote, or media past their retention)."""
    if keys:
        store.delete(keys)


def read(store: MediaStore, sha256: str, copy: str, extension: str = "jpg") -> bytes:
    """A copy that is shown (``shown``, ``thumb``, or a video's ``clip`` by its extension);
    never the original."""
    if copy not in (*COPIES, CLIP) or (copy == CLIP and extension not in CLIP_EXTENSIONS):
        msg = f"no copy {copy!r}"
        raise ValueError(msg)
    return store.get(media_key(sha256, copy, extension))
