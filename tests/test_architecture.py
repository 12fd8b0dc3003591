"""Layering and packaging rules that keep the code base coherent."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "media", "features", "models", "training", "serving", "flows")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


@pytest.mark.parametrize("name", PACKAGES)
def test_package_resolves_inside_this_repo(name: str) -> None:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin is not None, f"{name} is not importable"
    assert Path(spec.origin).resolve().is_relative_to(ROOT), f"{name} comes from {spec.origin}"


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_layer_contract_holds() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert f"Contracts: {len(contracts['contracts'])} kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("importer", "imported"),
    [("core", "flows"), ("media", "models"), ("training", "serving"), ("models", "training")],
)
def test_layer_contract_catches_a_forbidden_import(
    tmp_path: Path, importer: str, imported: str
) -> None:
    """The same contract, on a scratch tree with one forbidden (lazy) import, must fail."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contract = pyproject["tool"]["importlinter"]["contracts"][0]
    for name in PACKAGES:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / importer / "bad.py").write_text(f"def f():\n    import {imported}.x\n")
    (tmp_path / imported / "x.py").write_text("")
    layers = "\n".join(f"    {layer}" for layer in contract["layers"])
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_packages =\n"
        + "".join(f"    {p}\n" for p in PACKAGES)
        + f"\n[importlinter:contract:layers]\nname = {contract['name']}\ntype = layers\n"
        + f"layers =\n{layers}\n"
    )
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert f"{importer}.bad -> {imported}.x" in result.stdout
