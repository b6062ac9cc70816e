"""Files sent over HTTP: checked (type, archive limits) in a private temporary directory, then
loaded like a file given to the CLI."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename

from geo_patrol import loading
from geo_patrol.errors import InputError
from geo_patrol.ingest._files import check_archive, check_file_type
from geo_patrol.settings import Settings
from geo_patrol.store.uploads import LoadResult

UPLOAD_KINDS = ("volunteers", "tracks", "hazards", "reports", "incidents")


def load_upload(engine: Engine, settings: Settings, kind: str, upload: FileStorage | None,
                **options: Any) -> LoadResult:
    """Load one uploaded file as ``kind`` (options as for the ``load_*`` functions; ``None``
    values are left out). Errors name the file, never the temporary path."""
    if kind not in UPLOAD_KINDS:
        raise InputError(f"choose what the file holds: {', '.join(UPLOAD_KINDS)}")
    if upload is None or not upload.filename:
        raise InputError("choose a file")
    loader = getattr(loading, f"load_{kind}")
    options = {k: v for k, v in options.items() if v is not None}
    with tempfile.TemporaryDirectory(prefix="gp-upload-") as tmp:
        path = Path(tmp) / (secure_filename(upload.filename) or "upload")
        upload.save(path)
        try:
            check_file_type(path, kind)
            check_archive(path)
            return loader(engine, path, settings=settings, **options)
        except InputError as exc:
            if exc.source:  # the file's name, not where it was kept
                exc.source = Path(exc.source).name
            raise
