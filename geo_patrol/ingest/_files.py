"""File identity (SHA-256) and opening of compressed inputs."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from geo_patrol.errors import InputError, TooLargeError

#: Largest total an archive or compressed file may unpack to, and the largest ratio.
#: Default of ``Settings.max_unpacked_mb`` (2 GiB).
MAX_UNPACKED_BYTES = 2048 * 1024 * 1024
MAX_RATIO = 200
MAX_MEMBERS = 10_000

#: What a file of each upload kind may be (by name), and the first bytes each name implies.
UPLOAD_SUFFIXES = {
    "volunteers": (".csv", ".xlsx"),
    "training": (".csv", ".xlsx"),
    "tracks": (".gpx", ".geojson", ".json", ".csv", ".gz", ".bz2"),
    "hazards": (".csv", ".xlsx", ".geojson", ".json", ".gpkg", ".zip", ".fgb"),
    "reports": (".csv", ".xlsx", ".geojson", ".json", ".gpkg", ".zip", ".fgb"),
    "incidents": (".csv", ".xlsx", ".geojson", ".json", ".gpkg", ".zip", ".fgb"),
}
_MAGIC = {".xlsx": (b"PK\x03\x04",), ".zip": (b"PK\x03\x04",), ".gz": (b"\x1f\x8b",),
          ".bz2": (b"BZh",), ".gpkg": (b"SQLite format 3\x00",), ".fgb": (b"fgb",),
          ".gpx": (b"<",), ".geojson": (b"{", b"["), ".json": (b"{", b"[")}


@dataclass(frozen=True)
class FileInfo:
    """What identifies a loaded file: its name, size and SHA-256."""

    path: Path
    sha256: str
    size_bytes: int

    @property
    def name(self) -> str:
        return self.path.name


def file_info(path: Path | str, *, max_unpacked_bytes: int = MAX_UNPACKED_BYTES) -> FileInfo:
    """Hash a file (streamed) after checking it exists, is not empty and is no bomb."""
    p = Path(path)
    if not p.is_file():
        msg = "file not found"
        raise InputError(msg, source=str(p))
    size = p.stat().st_size
    if size == 0:
        msg = "file is empty"
        raise InputError(msg, source=str(p))
    digest = hashlib.sha256()
    with p.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    check_archive(p, max_unpacked_bytes=max_unpacked_bytes)
    return FileInfo(p, digest.hexdigest(), size)


def check_archive(path: Path, *, max_unpacked_bytes: int = MAX_UNPACKED_BYTES) -> None:
    """Refuse archives and compressed files that would unpack beyond the limits (bombs),
    judged from the ZIP directory or by counting decompressed bytes, before any parsing."""
    with path.open("rb") as fh:
        head = fh.read(4)
    size = max(path.stat().st_size, 1)
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as zf:
                members = zf.infolist()
        except zipfile.BadZipFile as exc:
            raise InputError(f"broken ZIP archive: {exc}", source=str(path)) from None
        total = sum(m.file_size for m in members)
        if len(members) > MAX_MEMBERS or total > max_unpacked_bytes or total / size > MAX_RATIO \
                or any(m.filename.lower().endswith((".zip", ".gz", ".bz2")) for m in members):
            msg = (f"archive refused: {len(members)} members unpacking to {total:,} bytes "
                   f"(limits {MAX_MEMBERS} members, {max_unpacked_bytes:,} bytes, "
                   f"{MAX_RATIO}x, no nested archives)")
            raise TooLargeError(msg, source=str(path))
    elif head.startswith((b"\x1f\x8b", b"BZh")):
        limit = min(max_unpacked_bytes, size * MAX_RATIO)
        total = 0
        try:
            with (gzip.open if head.startswith(b"\x1f\x8b") else bz2.open)(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    total += len(block)
                    if total > limit:
                        msg = (f"compressed file refused: it unpacks to more than {limit:,} "
                               f"bytes ({MAX_RATIO}x its size at most)")
                        raise TooLargeError(msg, source=str(path))
        except (OSError, EOFError) as exc:
            raise InputError(f"broken compressed file: {exc}", source=str(path)) from None


def check_file_type(path: Path, kind: str) -> None:
    """Refuse a file whose name is not one ``kind`` accepts, or whose first bytes contradict
    its name (a renamed executable, a workbook that is not a ZIP...)."""
    suffix = path.suffix.lower()
    allowed = UPLOAD_SUFFIXES.get(kind, ())
    if suffix not in allowed:
        got = suffix or "a name without extension"
        raise InputError(f"a {kind} file is one of {', '.join(allowed)}, not {got}",
                         source=path.name)
    with path.open("rb") as fh:
        head = fh.read(4096)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    magic = _MAGIC.get(suffix)
    if magic and not text.startswith(magic):
        raise InputError(f"the content is not a {suffix} file", source=path.name)
    if suffix == ".csv" and b"\x00" in head:
        raise InputError("this is a binary file, not CSV text", source=path.name)


def open_maybe_compressed(path: Path) -> IO[bytes]:
    """Open ``.bz2`` / ``.gz`` files transparently, as binary."""
    suffix = path.suffix.lower()
    if suffix == ".bz2":
        return bz2.open(path, "rb")
    if suffix == ".gz":
        return gzip.open(path, "rb")
    return path.open("rb")
