"""The built-in scenarios and schemas are found from an installed wheel as well as from the
source tree (an editable install)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from emulator.resources import builtin_scenarios, builtin_schemas

ROOT = Path(__file__).resolve().parent.parent


def test_the_source_tree_finds_its_data() -> None:
    assert builtin_scenarios() == ROOT / "scenarios"
    assert builtin_schemas() == ROOT / "schemas"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("task_emulator-*.whl")
    return built


def test_the_wheel_carries_scenarios_and_schemas(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "emulator/_data/scenarios/traffic_ops/acme-autorenew.yaml" in names
    assert "emulator/_data/schemas/scenario.schema.json" in names
    assert "emulator/py.typed" in names
    # The dashboard's page, scripts and style sheet ship as package files.
    for name in ("index.html", "app.js", "api.js", "dom.js", "journal.js", "timeline.js", "style.css"):
        assert f"emulator/ui/static/{name}" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "task-emulator = emulator.cli:main" in text


def test_an_installed_wheel_finds_its_data(wheel: Path, tmp_path: Path) -> None:
    # Unpacked, a wheel is exactly what pip puts in site-packages.
    site = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(site)
    script = (
        "import emulator.resources as r, emulator.app as a;"
        "print(r.builtin_scenarios());"
        "rt = a.build_runtime(a.EmulatorConfig());"
        "print(sorted(n for _, n in rt.engine.catalog.scenarios))"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    first, second = result.stdout.splitlines()
    assert first == str(site / "emulator" / "_data" / "scenarios")
    assert "acme-autorenew" in second
