"""A fifth vendor API is one package plus one entry point.

Acme Jobs (tests/fifth_vendor/) is installed the way pip installs it: a `*.dist-info`
folder with its entry point in the group `task_emulator.apis`, and the package, both on
PYTHONPATH. Nothing of the emulator is changed for it. Its own test suite, and a consumer
suite that checks what the server makes of it, run in a subprocess with it installed; so
do the commands. A plugin with a missing schema, or whose entry point names it wrongly, is
refused when the server starts.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from emulator import apis
from emulator.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "tests" / "fifth_vendor"
SOURCE = VENDOR / "src"
PACKAGE = SOURCE / "acme_jobs"
GUIDE = ROOT / "docs" / "adding-an-api.md"
BUILTIN = ("spectrum_discover", "ops_center", "dataarts", "traffic_ops")

# What the server makes of the installed plugin, checked from a consumer's test suite.
SERVER_SUITE = """
import requests
from openapi_spec_validator import validate

def test_the_openapi_document_has_its_routes(task_emulator):
    document = requests.get(task_emulator.url + "/_emulator/openapi.json", timeout=5).json()
    validate(document)
    start = document["paths"]["/acme/jobs"]["post"]
    assert start["tags"] == ["acme_jobs"]
    assert start["responses"]["202"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/acme_jobs.started"
    }
    assert "Location" in start["responses"]["202"]["headers"]
    status = document["paths"]["/acme/jobs/{id}"]["get"]
    assert status["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/acme_jobs.job"
    }
    tags = {tag["name"] for tag in document["tags"]}
    assert tags == {"spectrum_discover", "ops_center", "dataarts", "traffic_ops", "acme_jobs", "control"}

def test_the_builtin_apis_are_still_there(task_emulator):
    made = {
        api: task_emulator.create_task(api, scenario)
        for api, scenario in [
            ("spectrum_discover", "doc-example-complete"),
            ("ops_center", "query-fails"),
            ("dataarts", "doc-import-job"),
            ("traffic_ops", "acme-autorenew"),
            ("acme_jobs", "nightly-export"),
        ]
    }
    assert sorted(task_emulator.server.runtime.apis) == sorted(made)
    for api, task in made.items():
        assert task.phase in ("scheduled", "running", "succeeded", "failed"), api
"""


def install(site: Path, entry_point: str = "acme_jobs = acme_jobs:AcmeJobs") -> Path:
    """What pip leaves of an installed Acme Jobs besides the package: its metadata, with the
    entry point. Returns `site`."""
    info = site / "acme_jobs-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-jobs\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[task_emulator.apis]\n{entry_point}\n")
    return site


def python_path(site: Path, source: Path = SOURCE) -> str:
    # This source tree's emulator first, then the plugin's metadata and its package.
    return os.pathsep.join([str(ROOT), str(site), str(source)])


def emulator(*args: str, path: str) -> subprocess.CompletedProcess[str]:
    """`task-emulator <args>` with PYTHONPATH `path`; a server that does not stop by itself
    is stopped after 20 s (and the test fails)."""
    return subprocess.run(
        [sys.executable, "-m", "emulator", *args], check=False, capture_output=True, text=True,
        timeout=20,
        env={**os.environ, "PYTHONPATH": path},
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_its_own_suite_and_the_server_see_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PYTHONPATH", python_path(install(tmp_path / "site")))
    own = (VENDOR / "tests" / "test_acme_jobs.py").read_text(encoding="utf-8")
    pytester.makepyfile(test_acme_jobs=own, test_server=SERVER_SUITE)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=7)


def test_its_scenario_is_listed_with_the_builtin_ones(tmp_path: Path) -> None:
    listed = emulator("scenarios", path=python_path(install(tmp_path / "site")))
    assert listed.returncode == 0, listed.stderr
    rows = [line.split()[:4] for line in listed.stdout.splitlines()[1:]]
    assert ["acme_jobs", "nightly-export", "POST", "/acme/jobs"] in rows
    assert {row[0] for row in rows} == {*BUILTIN, "acme_jobs"}
    acme = next(line for line in listed.stdout.splitlines() if line.startswith("acme_jobs"))
    assert str(PACKAGE / "scenarios" / "nightly-export.yaml") in acme


def test_a_schema_its_table_names_is_needed_at_start(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(PACKAGE, broken / "acme_jobs")
    missing = broken / "acme_jobs" / "schemas" / "job.schema.json"
    missing.unlink()
    path = python_path(install(tmp_path / "site"), source=broken)
    served = emulator("serve", "--port", str(free_port()), path=path)
    assert served.returncode == 1
    assert served.stderr.splitlines() == [
        f"task-emulator: API acme_jobs: the schema {missing} is missing"
    ]


def test_its_settings_are_checked_by_its_own_rules(tmp_path: Path) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text("acme_jobs:\n  kinds: [import]\n")
    path = python_path(install(tmp_path / "site"))
    served = emulator("serve", "--port", str(free_port()), "--config", str(settings), path=path)
    assert served.returncode == 1
    assert "settings acme_jobs.default_kind: 'export' is not a kind (import)" in served.stderr
    assert "Traceback" not in served.stderr


def test_an_entry_point_that_names_it_wrongly_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(SOURCE))
    for module in ("acme_jobs", "acme_jobs.api"):  # imported for this test only
        monkeypatch.delitem(sys.modules, module, raising=False)
    wrong = importlib.metadata.EntryPoint("acme", "acme_jobs:AcmeJobs", apis.ENTRY_POINT_GROUP)
    monkeypatch.setattr(apis, "entry_points", lambda group: [wrong])
    with pytest.raises(ConfigError) as refused:
        apis.discover()
    assert str(refused.value) == (
        "the API 'acme' (acme_jobs:AcmeJobs) calls itself 'acme_jobs': "
        "the entry point's name and the class's `name` must agree"
    )


def test_serve_refuses_a_wrongly_named_entry_point_in_one_line(tmp_path: Path) -> None:
    path = python_path(install(tmp_path / "site", "acme = acme_jobs:AcmeJobs"))
    served = emulator("serve", "--port", str(free_port()), path=path)
    assert served.returncode == 1
    refusal = (
        "task-emulator: the API 'acme' (acme_jobs:AcmeJobs) calls itself 'acme_jobs': "
        "the entry point's name and the class's `name` must agree"
    )
    assert served.stderr.splitlines() == [refusal]


def test_the_plugin_may_be_imported_before_the_emulator(tmp_path: Path) -> None:
    program = "import acme_jobs\nfrom emulator.apis import API_CLASSES\nprint(*API_CLASSES)"
    run = subprocess.run(
        [sys.executable, "-c", program], check=False, capture_output=True, text=True, timeout=20,
        env={**os.environ, "PYTHONPATH": python_path(install(tmp_path / "site"))},
    )
    assert run.returncode == 0, run.stderr
    assert sorted(run.stdout.split()) == sorted([*BUILTIN, "acme_jobs"])


def test_the_editor_schema_bundles_its_scenario_schema(tmp_path: Path) -> None:
    bundled = emulator("schema", path=python_path(install(tmp_path / "site")))
    assert bundled.returncode == 0, bundled.stderr
    assert '"acme_jobs.scenario"' in bundled.stdout


# ---- the guide, docs/adding-an-api.md: its code is the example vendor's --------------------

BLOCK = re.compile(r"<!-- ([^>]*?) -->\n```[a-z]*\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def guide_blocks() -> list[tuple[str, str]]:
    """Each code block of the guide with the marker above it; a block without one fails."""
    text = GUIDE.read_text(encoding="utf-8")
    blocks = BLOCK.findall(text)
    assert len(blocks) == text.count("```") // 2, "a code block of the guide has no marker"
    return blocks


def test_the_guide_quotes_the_example_vendor_word_for_word() -> None:
    quoted = [(marker, code) for marker, code in guide_blocks() if marker.startswith("from ")]
    assert len(quoted) >= 10
    for marker, code in quoted:
        source = ROOT / marker.removeprefix("from ")
        assert source.is_relative_to(VENDOR) and source.is_file(), marker
        assert code in source.read_text(encoding="utf-8"), f"not in {marker}:\n{code}"


def test_the_guide_lists_every_file_of_the_example_vendor() -> None:
    (layout,) = [code for marker, code in guide_blocks() if marker == "layout"]
    listed = {line.split("#")[0].strip() for line in layout.splitlines()}
    files = [path.relative_to(VENDOR) for path in VENDOR.rglob("*") if path.is_file()]
    present = {
        path.as_posix() for path in files
        if not any(part.startswith((".", "__pycache__")) for part in path.parts)  # caches
    }
    assert listed == present
