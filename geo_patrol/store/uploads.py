"""Upload bookkeeping: one row per loaded file, unique by SHA-256, and the load result."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo_patrol.ingest._files import FileInfo


_NOUNS = {"boundaries": "areas", "streets": "street segments", "tracks": "fixes",
          "training": "attendance records"}


@dataclass
class LoadResult:
    """What one file's load did; printed as the CLI's summary line."""

    kind: str
    filename: str
    upload_id: int | None
    stored: int = 0
    flagged: int = 0
    duplicate: bool = False
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def summary_line(self) -> str:
        if self.duplicate:
            return (f"{self.filename}: already loaded as upload #{self.upload_id}; "
                    "nothing changed")
        extra = "".join(f", {k.replace('_', ' ')} {v}" for k, v in self.details.items()
                        if isinstance(v, (int, float, str)))
        noun = _NOUNS.get(self.kind, self.kind)
        return (f"{self.filename}: {self.stored} {noun} stored, {self.flagged} flagged"
                f"{extra} ({self.seconds:.1f} s)")


def claim_upload(conn: Connection, kind: str, info: FileInfo,
                 options: dict[str, Any], *, proof: str) -> tuple[int, bool]:
    """Insert the upload row, or find the earlier one with the same SHA-256.

    Returns ``(upload_id, is_new)``. A concurrent identical upload waits on the unique index
    and then sees the other's row, so the same file is stored once.
    """
    new_id = conn.execute(
        sa.text("INSERT INTO uploads (kind, filename, sha256, size_bytes, rows_stored, "
                "rows_flagged, options, summary, proof) VALUES (:kind, :filename, :sha, :size, "
                "0, 0, CAST(:options AS jsonb), '{}'::jsonb, :proof) ON CONFLICT (sha256) "
                "DO NOTHING RETURNING id"),
        {"kind": kind, "filename": info.name, "sha": info.sha256, "size": info.size_bytes,
         "proof": proof,
         "options": json.dumps(options, ensure_ascii=False, default=str)},
    ).scalar_one_or_none()
    if new_id is not None:
        return int(new_id), True
    old_id = conn.execute(sa.text("SELECT id FROM uploads WHERE sha256 = :sha"),
                          {"sha": info.sha256}).scalar_one()
    return int(old_id), False


def stored_upload(conn: Connection, sha256: str) -> int | None:
    """The upload that already stored a file with this SHA-256, if any."""
    found = conn.execute(sa.text("SELECT id FROM uploads WHERE sha256 = :sha"),
                         {"sha": sha256}).scalar_one_or_none()
    return None if found is None else int(found)


def finish_upload(conn: Connection, result: LoadResult) -> None:
    """Record the final counts of an upload in the same transaction as its rows."""
    conn.execute(
        sa.text("UPDATE uploads SET rows_stored = :stored, rows_flagged = :flagged, "
                "summary = CAST(:summary AS jsonb) WHERE id = :id"),
        {"stored": result.stored, "flagged": result.flagged, "id": result.upload_id,
         "summary": json.dumps(result.details, ensure_ascii=False, default=str)},
    )


class Timer:
    """Wall-clock seconds since creation."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start
