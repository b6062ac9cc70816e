"""Tabular files (CSV in UTF-8, UTF-8 with BOM or GBK; XLSX) read as text columns.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first record row 2.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
from openpyxl.utils.exceptions import InvalidFileException

from geo_patrol.errors import N_, InputError
from geo_patrol.ingest.problems import Problems

#: Encodings tried, in order, when a CSV does not declare one. GB18030 is a superset of GBK.
DETECTED_ENCODINGS = ("utf-8-sig", "gb18030")
_FORMULA_RE = re.compile(r"^=[A-Za-z(+\-]|^@[A-Za-z]")


def encodable(text: str) -> str:
    """``text`` with a lone UTF-16 surrogate (JSON's ``"\\ud800"``, which UTF-8 cannot
    encode, so neither PostgreSQL nor a page can hold it) replaced, as a bad byte is."""
    return text if text.isascii() else text.encode("utf-8", "replace").decode("utf-8")


def decode_text(data: bytes, source: str, encoding: str | None = None) -> str:
    """Decode a text file: the declared encoding, else UTF-8 (with or without BOM), else GBK."""
    if b"\x00" in data[:65536]:
        msg = "this is a binary file, not CSV text (expected CSV or XLSX)"
        raise InputError(msg, source=source)
    for enc in (encoding,) if encoding else DETECTED_ENCODINGS:
        try:
            return data.decode(enc).lstrip("\ufeff")
        except UnicodeDecodeError as exc:
            if encoding:
                msg = f"cannot decode as {encoding} at byte {exc.start}"
                raise InputError(msg, source=source) from None
        except LookupError:
            raise InputError(f"unknown encoding {encoding!r}", source=source) from None
    msg = "text is neither UTF-8 nor GBK: pass --encoding"
    raise InputError(msg, source=source, shown=N_(
        "The text is neither UTF-8 nor GBK: save the file as UTF-8 and load it again."))


def read_csv_text(path: Path, *, encoding: str | None = None) -> pd.DataFrame:
    """Read a CSV as strings (empty cells are ``""``), detecting UTF-8/BOM/GBK."""
    source = str(path)
    text = decode_text(path.read_bytes(), source, encoding)
    try:
        rows = list(csv.reader(io.StringIO(text), strict=True))
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", source=source) from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise InputError("no header row", source=source)
    header = [h.strip() for h in rows[0]]
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != len(header):
            msg = f"has {len(r)} fields, the header has {len(header)}"
            raise InputError(msg, source=source, location=f"row {i}")
    frame = pd.DataFrame(rows[1:], columns=header, dtype=object)
    frame.index = pd.RangeIndex(2, 2 + len(frame))
    return frame


def read_xlsx_text(path: Path | str, *, sheet: str | None = None) -> pd.DataFrame:
    """Read the first (or named) sheet of an XLSX workbook as strings; a sheet with formula
    cells is refused naming every one (row, column, cell)."""
    source = str(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise InputError(f"not a readable XLSX workbook: {exc}", source=source) from None
    problems = Problems(source)
    try:
        ws = book[sheet] if sheet else book.worksheets[0]
        rows: list[list[str]] = []
        for r, row in enumerate(ws.iter_rows(), start=1):
            values = []
            for cell in row:
                v = cell.value
                if cell.data_type == "f":
                    header = rows[0] if rows else []
                    at = len(values)
                    column = header[at].strip() if at < len(header) and header[at].strip() \
                        else str(getattr(cell, "column_letter", at + 1))
                    problems.add(r, column, N_("Cell %(cell)s holds a formula: save the sheet "
                                               "with its values only."),
                                 {"cell": getattr(cell, "coordinate", f"{r}")})
                    values.append("")
                elif v is None:
                    values.append("")
                elif isinstance(v, float) and v.is_integer():
                    values.append(str(int(v)))
                elif hasattr(v, "isoformat"):
                    values.append(v.isoformat())
                else:
                    values.append(str(v))
            rows.append(values)
    finally:
        book.close()
    problems.raise_if_any()
    while rows and not any(v.strip() for v in rows[-1]):
        rows.pop()
    if not rows:
        raise InputError("the sheet is empty", source=source)
    header = [h.strip() for h in rows[0]]
    width = len(header)
    body = [(r + [""] * width)[:width] for r in rows[1:]]
    frame = pd.DataFrame(body, columns=header, dtype=object)
    frame.index = pd.RangeIndex(2, 2 + len(frame))
    return frame


def read_table(path: Path | str, *, encoding: str | None = None,
               sheet: str | None = None) -> pd.DataFrame:
    """Read a CSV or XLSX file (by content, not only by name) as a frame of strings."""
    p = Path(path)
    with p.open("rb") as fh:
        magic = fh.read(4)
    if magic.startswith(b"PK"):
        return read_xlsx_text(p, sheet=sheet)
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        raise InputError("not an XLSX workbook (no ZIP header)", source=str(p))
    if p.suffix.lower() == ".xls":
        raise InputError("old .xls workbooks are not read: save as XLSX or CSV", source=str(p))
    return read_csv_text(p, encoding=encoding)


def match_columns(headers: Sequence[str], aliases: Mapping[str, Sequence[str]], *,
                  mapping: Mapping[str, str] | None = None, required: Sequence[str] = (),
                  source: str) -> dict[str, str]:
    """Which of the file's headers holds each canonical column (canonical → header).

    ``aliases`` lists, per canonical name, the headers understood by default (English and
    Chinese); ``mapping`` (canonical → header) overrides them. Missing required columns raise.
    """
    lookup = {str(h).strip().lower(): h for h in headers}
    chosen: dict[str, str] = {}
    for canonical, names in aliases.items():
        wanted = [mapping[canonical]] if mapping and canonical in mapping else [canonical, *names]
        for name in wanted:
            if name.strip().lower() in lookup:
                chosen[canonical] = lookup[name.strip().lower()]
                break
        else:
            if mapping and canonical in mapping:
                msg = f"column {mapping[canonical]!r} (given for {canonical}) is not in the file"
                raise InputError(msg, source=source)
    missing = [c for c in required if c not in chosen]
    if missing:
        msg = (f"missing column(s) {', '.join(missing)}; the file has "
               f"{', '.join(map(str, headers))} (map others with --column NAME=HEADER)")
        raise InputError(msg, source=source, values={
            "missing": missing, "headers": ", ".join(map(str, headers))},
            shown=N_("The file has no column %(missing)s (its columns are %(headers)s): "
                     "name the columns in its first row as the template does."))
    return chosen


def map_columns(frame: pd.DataFrame, aliases: Mapping[str, Sequence[str]], *,
                mapping: Mapping[str, str] | None = None, required: Sequence[str] = (),
                source: str) -> pd.DataFrame:
    """The frame with its headers renamed to canonical names (see :func:`match_columns`)."""
    chosen = match_columns(list(frame.columns), aliases, mapping=mapping, required=required,
                           source=source)
    return frame[list(chosen.values())].set_axis(list(chosen), axis=1)


def refuse_formulas(frame: pd.DataFrame, columns: Sequence[str], source: str,
                    problems: Problems | None = None) -> None:
    """Refuse text cells that a spreadsheet would run as a formula (``=...``, ``@...``):
    each is noted in ``problems`` (or the file is refused naming them all)."""
    found = problems if problems is not None else Problems(source)
    rows = frame.index.to_numpy()
    for col in columns:
        if col not in frame:
            continue
        text = frame[col].astype(str)
        found.flag(text.str.match(_FORMULA_RE).to_numpy(), rows, col,
                   N_("“%(value)s” would run as a spreadsheet formula: remove the = or @ at "
                      "its start."), lambda i, t=text: {"value": t.iloc[i][:40]})
    if problems is None:
        found.raise_if_any()


@dataclass
class TextRecords:
    """A file of text records read by :func:`read_text_records`: its rows, and every bad
    value found in them (:meth:`fail` notes one, :meth:`check` refuses the file naming them
    all, as a hazard sheet's are)."""

    frame: pd.DataFrame
    source: str
    problems: Problems = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.problems is None:
            self.problems = Problems(self.source)

    def __iter__(self) -> Iterator[tuple[Any, pd.Series]]:
        return self.frame.iterrows()

    def fail(self, row: int, column: str, msgid: str, **values: Any) -> None:
        """``column`` of ``row`` is wrong: ``msgid`` (marked with :func:`N_`) with
        ``values`` says why."""
        self.problems.add(row, column, msgid, values)

    def fail_choice(self, row: int, column: str, msgid: str, value: str, allowed: str,
                    keys: Iterable[str]) -> None:
        """``column`` of ``row`` holds ``value``, none of a vocabulary's words: ``msgid`` names
        the ``allowed`` words a person writes and the stored ``keys`` a file may use instead."""
        self.fail(row, column, msgid, value=value[:40], allowed=allowed, keys=", ".join(keys))

    def check(self) -> None:
        """Refuse the file, naming every bad value, when one was found."""
        self.problems.raise_if_any()


def read_text_records(path: Path | str, aliases: Mapping[str, Sequence[str]], *,
                      required: Sequence[str], text_columns: Sequence[str], what: str,
                      mapping: Mapping[str, str] | None = None, encoding: str | None = None,
                      sheet: str | None = None) -> TextRecords:
    """A CSV/XLSX of text records (a roster, a sign-in sheet) with canonical column names:
    every column of ``aliases`` present (empty where the file has none), values stripped,
    formula-looking cells of ``text_columns`` refused; ``what`` names it in errors."""
    source = str(path)
    raw = read_table(path, encoding=encoding, sheet=sheet)
    frame = map_columns(raw, aliases, mapping=mapping, required=required, source=source)
    if frame.empty:
        raise InputError(f"{what} has no rows", source=source)
    frame = frame.apply(lambda col: col.astype(str).str.strip())
    for col in aliases:
        if col not in frame:
            frame[col] = ""
    records = TextRecords(frame, source)
    refuse_formulas(frame, text_columns, source, records.problems)
    return records


def parse_mapping(pairs: Sequence[str]) -> dict[str, str]:
    """``["name=姓名", ...]`` from ``--column`` options as a dict."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            msg = f"--column expects NAME=HEADER, got {pair!r}"
            raise InputError(msg)
        out[key.strip()] = value.strip()
    return out
