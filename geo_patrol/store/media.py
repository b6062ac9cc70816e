"""Reports' photos and videos on disk, by the SHA-256 of the bytes sent: the original
(evidence, never served), and the copy shown and its thumbnail (both without EXIF); for a
video also its ``clip``, the copy served without metadata (the copy shown is its poster)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

#: The copies a photo has on disk: the one shown and its thumbnail (the original is not
#: among them: it is never served).
COPIES = ("shown", "thumb")
#: A video's copy served without metadata (named by its container's extension).
CLIP = "clip"
#: The extensions an original may have (whichever a photo or video came in).
ORIGINAL_EXTENSIONS = ("jpg", "png", "webp", "mp4", "mov", "webm")
#: The extensions a clip may have.
CLIP_EXTENSIONS = ("mp4", "mov", "webm")
_SHA = re.compile(r"[0-9a-f]{64}")


def media_path(root: Path, sha256: str, copy: str, extension: str = "jpg") -> Path:
    """Where a copy of a photo or video lives (``original``, ``shown``, ``thumb`` or, for a
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
    return root / sha256[:2] / name


def keep(root: Path, sha256: str, copies: dict[str, tuple[bytes, str]]) -> list[Path]:
    """Write each copy (``{copy: (bytes, extension)}``) once: an existing file is the same
    bytes (its name is their hash) and is left alone. Returns the files written, so a caller
    whose transaction fails can take them back."""
    written = []
    for copy, (data, extension) in copies.items():
        path = media_path(root, sha256, copy, extension)
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)  # atomic: a reader never sees half a photo
        written.append(path)
    return written


def forget(paths: list[Path]) -> None:
    """Remove files (those a failed transaction wrote, or a photo past its retention)."""
    for path in paths:
        path.unlink(missing_ok=True)


def read(root: Path, sha256: str, copy: str, extension: str = "jpg") -> bytes:
    """A copy that is shown (``shown``, ``thumb``, or a video's ``clip`` by its extension);
    never the original."""
    if copy not in (*COPIES, CLIP) or (copy == CLIP and extension not in CLIP_EXTENSIONS):
        msg = f"no copy {copy!r}"
        raise ValueError(msg)
    return media_path(root, sha256, copy, extension).read_bytes()
