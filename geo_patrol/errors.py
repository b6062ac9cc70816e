"""Domain errors. Each maps to one HTTP status in the web layer and one CLI line."""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from typing import Any

#: How many bad rows of a file an error lists (the rest are counted).
MAX_ROW_PROBLEMS = 100


def N_(message: str) -> str:
    """Marks an English message as one the web shows in the reader's language: it is
    extracted into the catalogue and translated where it is shown, with its ``%(name)s``
    values filled in after translation."""
    return message


class GeoPatrolError(Exception):
    """Base class of every error the library raises on purpose.

    ``field`` names the form field at fault (a form shows the message beside it);
    ``msgid`` and ``values``, when set, are the message as marked with :func:`N_` and its
    values, so a page can say it in the reader's language."""

    field: str | None = None
    msgid: str | None = None
    values: dict[str, Any] = {}  # noqa: RUF012 (never mutated; instances set their own)


class InputError(GeoPatrolError, ValueError):
    """A file or argument the user gave is wrong; nothing was stored.

    Parameters
    ----------
    message
        What is wrong, in one line.
    source
        The file (or argument) at fault, when there is one.
    location
        Where in it: ``"row 12"``, ``"feature 3 (东河区)"``.

    field
        The form field at fault, when the value came from a form.
    values
        When given, ``message`` is a template marked with :func:`N_` and these fill its
        ``%(name)s`` places (translated where it is shown).
    shown
        A template (marked with :func:`N_`) a page shows instead of ``message`` (which may
        name command-line options), filled with ``values``.
    """

    def __init__(self, message: str, *, source: str | None = None, location: str | None = None,
                 field: str | None = None, values: dict[str, Any] | None = None,
                 shown: str | None = None):
        if shown is not None:  # the page's words differ from the command line's
            self.msgid, self.values = shown, dict(values or {})
        elif values is not None:
            self.msgid, self.values = message, dict(values)
            message = message % self.values
        self.message = message
        self.source = source
        self.location = location
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ", ".join(p for p in (self.source, self.location) if p)
        return f"{where}: {self.message}" if where else self.message


class CRSError(InputError):
    """A coordinate reference system was not declared or is not understood."""


class InvalidGeometryError(InputError):
    """A geometry is not valid (self-intersection, unclosed ring, empty...)."""


class NotFoundError(GeoPatrolError, LookupError):
    """A referenced record (area, volunteer, upload) does not exist."""


class NoVolunteerError(NotFoundError):
    """The account signed in is no volunteer's: a volunteer's own page or action (/me, the
    SOS button, push and notification settings) has nobody to act for."""

    msgid = N_("This account is not a volunteer's: this page is for volunteers.")

    def __init__(self) -> None:
        super().__init__("this account has no volunteer record")


class CalloutEndedError(NotFoundError):
    """A volunteer answers a call-out (or withdraws an SOS) that is no longer open to them:
    closed, cancelled, withdrawn, or never theirs (told alike)."""

    msgid = N_("This call-out is no longer open: it has ended, or it was not sent to you. "
               "Your page shows what is open now.")


class ConflictError(GeoPatrolError):
    """The request contradicts stored state (e.g. a different metric CRS). With ``values``,
    ``message`` is a template marked with :func:`N_` (translated where it is shown)."""

    def __init__(self, message: str, *, values: dict[str, Any] | None = None):
        if values is not None:
            self.msgid, self.values = message, dict(values)
            message = message % self.values
        super().__init__(message)


class DatabaseError(GeoPatrolError, RuntimeError):
    """The database could not be reached, started or migrated."""


class MissingDependencyError(GeoPatrolError, RuntimeError):
    """A system program or package is not installed; the message names it."""


class TooLargeError(InputError):
    """A body or an archive that would unpack beyond the configured limits."""


class UnauthorizedError(GeoPatrolError, PermissionError):
    """No valid sign-in or token."""


class ForbiddenError(GeoPatrolError, PermissionError):
    """Signed in, but the role may not do this. ``role``, ``action`` and ``resource``, when
    set, let a page say so in the reader's language; ``page_for``, when a page was only
    opened, the roles it is for."""

    def __init__(self, message: str, *, role: str | None = None, action: str | None = None,
                 resource: str | None = None, page_for: tuple[str, ...] = ()):
        self.role, self.action, self.resource = role, action, resource
        self.page_for = page_for
        super().__init__(message)


class JobPendingError(ConflictError):
    """What was asked for is being made by a job that has not finished: the request answers
    so at once (with the job, to follow) rather than hold a web thread waiting for it."""

    def __init__(self, message: str, *, job: dict[str, Any]):
        self.job = job
        super().__init__(message)


class BusyError(GeoPatrolError):
    """The user already has as many jobs queued or running as one may (try again when one
    has finished)."""


@dataclass(frozen=True)
class RowProblem:
    """One bad value of a file: where (``unit`` ``row``, ``column``) and why (``msgid``, an
    English template marked with :func:`N_`, and its ``values``)."""

    row: object
    column: str
    msgid: str
    values: dict[str, Any] = dc_field(default_factory=dict)
    unit: str = "row"

    def text(self) -> str:
        return f"{self.unit} {self.row}, {self.column}: {self.msgid % self.values}"


class RowErrors(InputError):
    """A file with bad rows: every problem found (up to :data:`MAX_ROW_PROBLEMS`), each with
    its row, column and reason; nothing was stored."""

    def __init__(self, problems: list[RowProblem], *, source: str | None = None,
                 total: int | None = None):
        self.problems = problems[:MAX_ROW_PROBLEMS]
        self.total = max(total or 0, len(problems))
        shown = "; ".join(p.text() for p in self.problems[:5])
        more = f" (and {self.total - 5} more)" if self.total > 5 else ""
        super().__init__(f"{self.total} bad rows: {shown}{more}", source=source)


class ReportInputError(InputError):
    """A volunteer's report or one of its photos is refused; nothing was stored. ``code``
    names the reason and ``params`` its figures, so a page can say it in the reader's
    language.

    Parameters
    ----------
    code
        ``not_image``, ``too_large``, ``bomb``, ``size_lies``, ``too_many``, ``not_video``,
        ``video_too_large``, ``video_too_long``, ``outside``, ``category``, ``text`` or, in
        triage, ``reason``, ``merge``, ``answer`` and ``own`` (one's own report).
    message
        The English message.
    """

    def __init__(self, code: str, message: str, **params: object):
        self.code = code
        self.params = params
        super().__init__(message, source=params.get("file") and str(params["file"]) or None)
