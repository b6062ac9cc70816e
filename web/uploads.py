"""Files sent over HTTP: saved to a private temporary directory for the loaders; errors name
the file as the user sent it, never where it was kept."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from werkzeug.datastructures import FileStorage

from geo_patrol.errors import N_, GeoPatrolError, InputError


@contextmanager
def saved_upload(upload: FileStorage | None) -> Iterator[Path]:
    """The uploaded file on disk while the block runs (removed afterwards)."""
    if upload is None or not upload.filename:
        raise InputError(N_("Choose a file."), field="file", values={})
    with tempfile.TemporaryDirectory(prefix="gp-upload-") as tmp:
        path = Path(tmp) / safe_name(upload.filename)
        upload.save(path)
        try:
            yield path
        except GeoPatrolError as exc:
            _hide_path(exc, tmp)
            raise


def safe_name(filename: str) -> str:
    """The file's own name (Chinese included) without any directory, control character or
    leading dot, so it can be kept beside its upload and shown back to the user."""
    name = re.sub(r"[\x00-\x1f\x7f]", "", filename.replace("\\", "/").rsplit("/", 1)[-1])
    name = name.lstrip(". ").strip()[:200]
    return name or "upload"


def _hide_path(exc: GeoPatrolError, tmp: str) -> None:
    """Take the temporary directory out of an error's text."""
    if isinstance(exc, InputError):
        if exc.source:
            exc.source = Path(exc.source).name
        exc.message = exc.message.replace(tmp + "/", "").replace(tmp, "")
        exc.args = (str(exc),)
    elif exc.args:
        exc.args = tuple(str(a).replace(tmp + "/", "").replace(tmp, "") for a in exc.args)
