"""The lock files match pyproject.toml, without the network: every dependency it names is pinned
at a version it allows, nothing else is marked as a direct dependency, every pin carries hashes,
and the app's lock (the Docker image) has the dev lock's versions. ``scripts/lock`` rewrites them;
the README says when."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)")
LOCKS = [("requirements.lock", ()), ("requirements-dev.lock", ("dev",))]


@dataclass
class Pin:
    version: Version
    hashes: int = 0
    via: list[str] = field(default_factory=list)


def pins(lock: str) -> dict[str, Pin]:
    found: dict[str, Pin] = {}
    current = None
    for line in (ROOT / lock).read_text().splitlines():
        if match := PIN.match(line):
            current = found[canonicalize_name(match["name"])] = Pin(Version(match["version"]))
        elif current is not None and line.strip().startswith("--hash=sha256:"):
            current.hashes += 1
        elif current is not None and line.startswith("    #"):
            text = line.strip().lstrip("#").strip().removeprefix("via").strip()
            current.via += [part.strip() for part in text.split(",") if part.strip()]
    return found


def direct(extras: tuple[str, ...]) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = list(project["dependencies"])
    for extra in extras:
        names += project["optional-dependencies"][extra]
    return [Requirement(name) for name in names]


@pytest.mark.parametrize(("lock", "extras"), LOCKS)
def test_every_dependency_of_pyproject_is_locked_at_a_version_it_allows(lock, extras):
    locked = pins(lock)
    for requirement in direct(extras):
        pin = locked.get(canonicalize_name(requirement.name))
        assert pin is not None, f"{requirement.name} is not in {lock}: run scripts/lock"
        assert requirement.specifier.contains(pin.version, prereleases=True), (
            f"{lock} pins {requirement.name} {pin.version}, pyproject.toml asks for "
            f"{requirement.specifier}: run scripts/lock"
        )


@pytest.mark.parametrize(("lock", "extras"), LOCKS)
def test_the_lock_marks_exactly_pyprojects_dependencies_as_direct(lock, extras):
    locked = pins(lock)
    marked = {name for name, pin in locked.items() if "crewcommand (pyproject.toml)" in pin.via}
    assert marked == {canonicalize_name(r.name) for r in direct(extras)}, "run scripts/lock"


@pytest.mark.parametrize(("lock", "extras"), LOCKS)
def test_every_pin_carries_its_hashes(lock, extras):
    locked = pins(lock)
    assert len(locked) > 20
    assert not [name for name, pin in locked.items() if not pin.hashes]


def test_the_app_lock_has_the_dev_locks_versions():
    app, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert set(app) <= set(dev)
    assert {name: pin.version for name, pin in app.items()} == {
        name: dev[name].version for name in app
    }
