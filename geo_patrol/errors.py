"""Domain errors. Each maps to one HTTP status in the web layer and one CLI line."""

from __future__ import annotations


class GeoPatrolError(Exception):
    """Base class of every error the library raises on purpose."""


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
    """

    def __init__(self, message: str, *, source: str | None = None, location: str | None = None):
        self.message = message
        self.source = source
        self.location = location
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


class ConflictError(GeoPatrolError):
    """The request contradicts stored state (e.g. a different metric CRS)."""


class DatabaseError(GeoPatrolError, RuntimeError):
    """The database could not be reached, started or migrated."""


class MissingDependencyError(GeoPatrolError, RuntimeError):
    """A system program or package is not installed; the message names it."""


class TooLargeError(InputError):
    """A body or an archive that would unpack beyond the configured limits."""


class UnauthorizedError(GeoPatrolError, PermissionError):
    """No valid sign-in or token."""


class ForbiddenError(GeoPatrolError, PermissionError):
    """Signed in, but the role may not do this."""


class BusyError(GeoPatrolError):
    """The user already has as many jobs queued or running as one may (try again when one
    has finished)."""
class ReportInputError(InputError):
    """A volunteer's report or one of its photos is refused; nothing was stored. ``code``
    names the reason and ``params`` its figures, so a page can say it in the reader's
    language.

    Parameters
    ----------
    code
        ``not_image``, ``too_large``, ``bomb``, ``size_lies``, ``too_many``, ``not_video``,
        ``video_too_large``, ``video_too_long``, ``outside``, ``category`` or ``text``.
    message
        The English message.
    """

    def __init__(self, code: str, message: str, **params: object):
        self.code = code
        self.params = params
        super().__init__(message, source=params.get("file") and str(params["file"]) or None)
