"""The layer rule: import-linter contracts pass; docs/architecture.md lists the same floors."""

import re
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _layers() -> list[list[str]]:
    """The floors of the layers contract, top first, each as its module names."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    return [[m.strip(" ()") for m in floor.split(":")] for floor in contract["layers"]]


def test_import_contracts_pass():
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_every_top_level_module_has_a_floor():
    named = {m.removeprefix("posekit.") for floor in _layers() for m in floor}
    modules = {p.stem for p in (ROOT / "posekit").glob("*.py") if p.stem != "__init__"}
    packages = {p.parent.name for p in (ROOT / "posekit").glob("*/__init__.py")}
    assert modules | packages <= named, sorted((modules | packages) - named)


def test_architecture_doc_draws_the_same_floors():
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = re.search(r"<!-- floors -->\n```\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md lost its floors block"
    doc = [re.findall(r"[a-z_]+", line.split("—")[0]) for line in block.group(1).splitlines()]
    doc = [names for names in doc if names]
    want = [[m.removeprefix("posekit.") for m in floor] for floor in _layers()]
    assert doc == want
