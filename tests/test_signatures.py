"""Settings flow in, never default: no use case or query hides a city's time zone in a default
argument (a forgotten argument would silently mean one city's day in every other city)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest

import geo_patrol.analysis
import geo_patrol.ingest
import geo_patrol.planning
import geo_patrol.render
import geo_patrol.services
import geo_patrol.store
import web
from tests.conftest import REPO

#: Parameter names that carry a time zone.
ZONE_PARAMETERS = frozenset({"tz", "tzinfo", "timezone", "time_zone", "zone"})


def functions_of(package: ModuleType) -> Iterator[tuple[str, Callable]]:
    """Every function and method defined in the package's modules, by qualified name."""
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj):
                yield f"{module.__name__}.{name}", obj
            elif inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    func = getattr(member, "__func__", member)  # class and static methods
                    if inspect.isfunction(func):
                        yield f"{module.__name__}.{name}.{attr}", func


def zone_defaults(func: Callable) -> list[str]:
    """The time-zone parameters of ``func`` that default to a zone (``None`` assumes none:
    a file's times without a zone are refused, not placed in some city)."""
    return [f"{p.name}={p.default!r}" for p in inspect.signature(func).parameters.values()
            if p.name in ZONE_PARAMETERS
            and p.default not in (inspect.Parameter.empty, None)]


def test_zone_defaults_are_found():
    def shown(frame: object, *, tz: str = "Asia/Shanghai") -> None: ...

    def passed(frame: object, *, tz: str) -> None: ...

    def assumed(frame: object, timezone: str | None = None) -> None: ...

    assert zone_defaults(shown) == ["tz='Asia/Shanghai'"]
    assert zone_defaults(passed) == zone_defaults(assumed) == []


@pytest.mark.parametrize("package", [geo_patrol.services, geo_patrol.store,
                                     geo_patrol.analysis, geo_patrol.planning,
                                     geo_patrol.render, geo_patrol.ingest, web],
                         ids=lambda p: p.__name__)
def test_no_time_zone_has_a_default(package):
    functions = dict(functions_of(package))
    assert len(functions) > 20  # the walk reached the package's modules
    found = {name: zone_defaults(func) for name, func in functions.items()}
    assert {name: d for name, d in found.items() if d} == {}, \
        "the caller passes the city's time zone (Settings.timezone): drop these defaults"


def test_settings_are_read_from_the_environment_by_the_command_line_and_the_app_alone():
    """Everything else is handed the settings (a city's own among them)."""
    readers = sorted(str(path.relative_to(REPO)) for folder in ("geo_patrol", "web")
                     for path in (REPO / folder).rglob("*.py")
                     if "Settings.from_env" in path.read_text(encoding="utf-8"))
    # the command line's entry, the app factory, and ``geo-patrol serve`` (a command the web
    # package adds to the command line)
    assert readers == ["geo_patrol/cli/__init__.py", "web/__init__.py", "web/commands.py"]
