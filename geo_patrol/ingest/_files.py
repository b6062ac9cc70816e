"""File identity (SHA-256) and opening of compressed inputs."""

from __future__ import annotations

import bz2
import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from geo_patrol.errors import InputError


@dataclass(frozen=True)
class FileInfo:
    """What identifies a loaded file: its name, size and SHA-256."""

    path: Path
    sha256: str
    size_bytes: int

    @property
    def name(self) -> str:
        return self.path.name


def file_info(path: Path | str) -> FileInfo:
    """Hash a file (streamed) after checking it exists and is not empty."""
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
    return FileInfo(p, digest.hexdigest(), size)


def open_maybe_compressed(path: Path) -> IO[bytes]:
    """Open ``.bz2`` / ``.gz`` files transparently, as binary."""
    suffix = path.suffix.lower()
    if suffix == ".bz2":
        return bz2.open(path, "rb")
    if suffix == ".gz":
        return gzip.open(path, "rb")
    return path.open("rb")
