"""Who may do what: roles, the access matrix, and the areas a user's records are limited to.

The matrix is the one in the reliability promises: each resource lists, per role, whether the
role may read it, only within its bound areas (``SCOPED``), only its own records (``OWN``),
or only in aggregate. Views ask :func:`allows` and filter by :attr:`Principal.area_ids`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from geo_patrol.errors import ForbiddenError, NotFoundError


class Role(str, Enum):
    COMMAND = "command"      # district command
    OFFICER = "officer"      # community officer, bound to communities
    PLANNER = "planner"
    VOLUNTEER = "volunteer"  # bound to one roster row
    ADMIN = "admin"          # accounts, plus everything a district command may do


class Resource(str, Enum):
    PEOPLE = "people"        # volunteer personal data
    TRACKS = "tracks"        # raw patrol tracks
    HAZARDS = "hazards"      # hazards and reports
    COVERAGE = "coverage"    # coverage, plans, exports
    AUDIT = "audit"
    ACCOUNTS = "accounts"
    DEVICES = "devices"      # phones registered to volunteers, refused position requests
    CALLOUTS = "callouts"    # incidents marked and the volunteers called to them
    TRAINING = "training"    # courses, sessions, attendance and certificates
    CRIME = "crime"          # crime patterns: hot spots, times, near-repeats, evaluation
    CAMPAIGNS = "campaigns"  # hazard-clearing campaigns and their progress toward zero
    TASKS = "tasks"          # patrol tasks, their checks, points and payouts


class Grant(str, Enum):
    ALL = "all"              # every record (within the user's areas, if bound)
    SCOPED = "scoped"        # only records of the user's areas
    OWN = "own"              # only the user's own records
    AGGREGATE = "aggregate"  # only aggregated figures, never a raw record


_C, _O, _P, _V, _A = Role.COMMAND, Role.OFFICER, Role.PLANNER, Role.VOLUNTEER, Role.ADMIN

#: (resource, action) -> {role: grant}; a role not listed is refused (403).
MATRIX: dict[tuple[Resource, str], dict[Role, Grant]] = {
    (Resource.PEOPLE, "read"): {_C: Grant.ALL, _A: Grant.ALL, _O: Grant.SCOPED, _V: Grant.OWN},
    (Resource.PEOPLE, "unmask"): {_C: Grant.ALL, _A: Grant.ALL},
    (Resource.TRACKS, "read"): {_C: Grant.ALL, _A: Grant.ALL, _O: Grant.SCOPED, _V: Grant.OWN,
                                _P: Grant.AGGREGATE},
    (Resource.TRACKS, "write"): {_C: Grant.ALL, _A: Grant.ALL, _V: Grant.OWN},
    (Resource.HAZARDS, "read"): {_C: Grant.ALL, _A: Grant.ALL, _O: Grant.SCOPED, _P: Grant.ALL,
                                 _V: Grant.OWN},
    (Resource.HAZARDS, "write"): {_C: Grant.ALL, _A: Grant.ALL},
    (Resource.HAZARDS, "propose"): {_C: Grant.ALL, _A: Grant.ALL, _O: Grant.SCOPED},
    (Resource.HAZARDS, "report"): {_V: Grant.OWN},
    (Resource.HAZARDS, "triage"): {_C: Grant.ALL, _A: Grant.ALL, _O: Grant.SCOPED},
    (Resource.COVERAGE, "read"): {_C: Grant.ALL, _A: Grant.ALL, _O: Grant.SCOPED,
                                  _P: Grant.ALL},
    (Resource.COVERAGE, "write"): {_C: Grant.ALL, _A: Grant.ALL, _P: Grant.ALL},
    (Resource.AUDIT, "read"): {_C: Grant.ALL, _A: Grant.ALL},
    (Resource.ACCOUNTS, "write"): {_A: Grant.ALL},
    (Resource.DEVICES, "read"): {_C: Grant.ALL, _A: Grant.ALL, _O: Grant.SCOPED},
    (Resource.DEVICES, "write"): {_C: Grant.ALL, _A: Grant.ALL},
    (Resource.CALLOUTS, "read"): {_C: Grant.ALL, _A: Grant.ALL, _O: Grant.SCOPED,
                                  _V: Grant.OWN},
    (Resource.CALLOUTS, "write"): {_C: Grant.ALL, _A: Grant.ALL, _O: Grant.SCOPED},
    (Resource.CALLOUTS, "answer"): {_V: Grant.OWN},
    (Resource.TRAINING, "read"): {_C: Grant.ALL, _A: Grant.ALL, _O: Grant.SCOPED,
                                  _V: Grant.OWN},
    (Resource.TRAINING, "write"): {_C: Grant.ALL, _A: Grant.ALL},
    (Resource.CRIME, "read"): {_C: Grant.ALL, _A: Grant.ALL, _P: Grant.ALL, _O: Grant.SCOPED},
    (Resource.CAMPAIGNS, "read"): {_C: Grant.ALL, _A: Grant.ALL, _P: Grant.ALL,
                                   _O: Grant.SCOPED},
    (Resource.CAMPAIGNS, "write"): {_C: Grant.ALL, _A: Grant.ALL},
    (Resource.TASKS, "read"): {_C: Grant.ALL, _A: Grant.ALL, _P: Grant.ALL, _O: Grant.SCOPED,
                               _V: Grant.OWN},
    (Resource.TASKS, "write"): {_C: Grant.ALL, _A: Grant.ALL, _O: Grant.SCOPED},
    (Resource.TASKS, "take"): {_V: Grant.OWN},
    (Resource.TASKS, "pay"): {_C: Grant.ALL, _A: Grant.ALL},
}


@dataclass(frozen=True)
class Principal:
    """A signed-in user as the views see them."""

    id: int
    username: str
    role: Role
    #: Areas whose records the user may see (communities and the districts they lie in);
    #: ``None`` means the whole deployment.
    area_ids: frozenset[int] | None = None
    #: Communities the user is bound to (for filtering records that carry a community id).
    community_ids: frozenset[int] | None = None
    volunteer_id: int | None = None

    def grant(self, resource: Resource, action: str = "read") -> Grant | None:
        """What the matrix grants this user on ``resource`` (``None``: nothing)."""
        return MATRIX.get((resource, action), {}).get(self.role)

    def require(self, resource: Resource, action: str = "read") -> Grant:
        """The grant, or :class:`ForbiddenError` (403) when the role has none."""
        grant = self.grant(resource, action)
        if grant is None:
            article = "an" if self.role.value[:1] in "aeiou" else "a"
            msg = f"{article} {self.role.value} account may not {action} {resource.value}"
            raise ForbiddenError(msg, role=self.role.value, action=action,
                                 resource=resource.value)
        return grant

    def require_page(self, resource: Resource, action: str = "read") -> Grant:
        """:meth:`require` for opening a page: its refusal names the roles the page is for
        (one who only opened the command's page has changed nothing)."""
        try:
            return self.require(resource, action)
        except ForbiddenError as exc:
            exc.page_for = tuple(r.value for r in roles_granted(resource, action))
            raise

    def sees_area(self, area_id: int | None) -> bool:
        return self.area_ids is None or (area_id is not None and area_id in self.area_ids)

    def check_area(self, area_id: int | None, what: str = "area") -> None:
        """404 for an area outside the user's scope: guessing ids reveals nothing."""
        if not self.sees_area(area_id):
            raise NotFoundError(f"no {what} {area_id}")

    def within(self, resource: Resource, action: str = "read") -> frozenset[int] | None:
        """Community ids that listed records must lie in (``None``: no limit). A role that may
        only reach its own records or aggregates gets :class:`ForbiddenError` here."""
        grant = self.require(resource, action)
        if grant in (Grant.OWN, Grant.AGGREGATE):
            msg = f"a {self.role.value} account sees only {grant.value} {resource.value}"
            raise ForbiddenError(msg, role=self.role.value, action=grant.value,
                                 resource=resource.value)
        return self.community_ids


def roles_granted(resource: Resource, action: str = "read") -> list[Role]:
    """The roles the matrix grants ``action`` on ``resource``, in the order of :class:`Role`;
    the administrator only when no district command is among them (it may do all a district
    command may)."""
    grants = MATRIX.get((resource, action), {})
    roles = [r for r in Role if r in grants]
    return [r for r in roles if r is not Role.ADMIN or Role.COMMAND not in roles]


#: How the README names roles, resources and grants.
_ROLE_NAMES = {Role.COMMAND: "district command", Role.OFFICER: "community officer",
               Role.PLANNER: "planner", Role.VOLUNTEER: "volunteer", Role.ADMIN: "admin"}
_RESOURCE_NAMES = {Resource.PEOPLE: "volunteer personal data", Resource.TRACKS: "tracks",
                   Resource.HAZARDS: "hazards and reports",
                   Resource.COVERAGE: "coverage, plans, exports", Resource.AUDIT: "audit log",
                   Resource.ACCOUNTS: "accounts", Resource.DEVICES: "position devices",
                   Resource.CALLOUTS: "call-outs", Resource.TRAINING: "training and certificates",
                   Resource.CRIME: "crime patterns", Resource.CAMPAIGNS: "campaigns",
                   Resource.TASKS: "patrol tasks, points, payouts"}
_GRANT_NAMES = {Grant.ALL: "yes", Grant.SCOPED: "own communities", Grant.OWN: "own only",
                Grant.AGGREGATE: "aggregates only"}


def matrix_markdown() -> str:
    """The access matrix as the README's table (the README is checked against it)."""
    roles = list(_ROLE_NAMES)
    lines = ["| resource | action | " + " | ".join(_ROLE_NAMES[r] for r in roles) + " |",
             "|---|---|" + "---|" * len(roles)]
    for (resource, action), grants in MATRIX.items():
        cells = [_GRANT_NAMES[grants[r]] if r in grants else "—" for r in roles]
        lines.append(f"| {_RESOURCE_NAMES[resource]} | {action} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
