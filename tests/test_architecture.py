"""The layers (README, "Architecture"): the import-linter contract in pyproject.toml holds on this
tree, breaks on a planted upward import (function-local ones included), lists every core module,
and the templates keep the same order."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
[LAYERS] = [c for c in CONFIG["contracts"] if c["type"] == "layers"]
COMPOSITION = {"dashboard", "urls"}


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_tree_keeps_the_layers():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory) -> Path:
    """The packages and the contract, copied, so a test can plant an import."""
    copy = tmp_path_factory.mktemp("tree")
    shutil.copy(ROOT / "pyproject.toml", copy)
    for package in CONFIG["root_packages"]:
        shutil.copytree(
            ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return copy


@pytest.mark.parametrize(
    ("module", "planted", "message"),
    [
        # The shapes the layers had before: core -> apps, documents -> billing / portal.
        (
            "crewcommand/views.py",
            "billing.selectors",
            "crewcommand.views is not allowed to import billing",
        ),
        (
            "crewcommand/errors.py",
            "crewcommand.dashboard.views",
            "crewcommand.errors is not allowed to import crewcommand.dashboard",
        ),
        ("documents/services.py", "billing.services", "documents is not allowed to import billing"),
        ("documents/views.py", "portal.services", "documents is not allowed to import portal"),
        ("portal/views_portal.py", "billing.selectors", "portal is not allowed to import billing"),
        (
            "billing/selectors.py",
            "crewcommand.dashboard.views",
            "billing is not allowed to import crewcommand.dashboard",
        ),
    ],
)
def test_a_function_local_upward_import_breaks_the_contract(tree_copy, module, planted, message):
    path = tree_copy / module
    original = path.read_text()
    path.write_text(f"{original}\n\ndef _planted():\n    import {planted}  # noqa: F401\n")
    try:
        result = lint_imports(tree_copy)
    finally:
        path.write_text(original)
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stdout, result.stdout
    assert lint_imports(tree_copy).returncode == 0  # and the copy is whole again


def test_every_core_module_is_in_the_core_layer():
    """A layer may not contain another, so the core is listed module by module: a new module
    of the crewcommand package must join the list (or the composition)."""
    core = {name.strip() for name in LAYERS["layers"][-1].split(":")}
    composition = {name.strip() for name in LAYERS["layers"][0].split(":")}
    assert composition == {f"crewcommand.{name}" for name in COMPOSITION}
    children = {
        f"crewcommand.{path.stem}"
        for path in (ROOT / "crewcommand").iterdir()
        if path.stem not in COMPOSITION
        and path.name != "__init__.py"
        and (path.suffix == ".py" or (path / "__init__.py").exists())
    }
    assert core == children


# --- Templates -----------------------------------------------------------------------------------

# Template folders and tag libraries by layer (0 = core); templates/<app>/ is the app's.
TEMPLATE_LAYER = {"documents": 1, "portal": 2, "billing": 3, "dashboard": 5}
TAG_LIBRARY_LAYER = {"document_taxes": 1, "portal_slots": 2, "billing": 3}
REFERENCE = re.compile(r"{%\s*(?:include|extends)\s+[\"']([\w-]+)/")
LOAD = re.compile(r"{%\s*load\s+([^%]+?)\s*%}")


def _layer_of_folder(folder: str) -> int:
    return TEMPLATE_LAYER.get(folder, 0)


def test_templates_keep_the_layers():
    """A template includes, extends and loads tags only from its own layer or lower ones (the
    portal's pages show billing's panels through slots billing fills, not by naming them)."""
    wrong = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        relative = path.relative_to(ROOT / "templates")
        own = _layer_of_folder(relative.parts[0]) if len(relative.parts) > 1 else 0
        text = path.read_text()
        for folder in REFERENCE.findall(text):
            if _layer_of_folder(folder) > own:
                wrong.append(f"{relative} uses {folder}/")
        for libraries in LOAD.findall(text):
            for library in libraries.split():
                if TAG_LIBRARY_LAYER.get(library, 0) > own:
                    wrong.append(f"{relative} loads {library}")
    assert not wrong
    assert not list(ROOT.glob("*/templates/**/*.html")), "templates live in templates/<app>/"
