"""The container examples (examples/ci/, docs/docker.md) agree with the Dockerfile and the
CLI, and the sidecar's stand-in application really runs against an emulator.

No container engine is needed here; tests/test_docker_image.py builds the image itself.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from emulator.cli import build_parser
from emulator.config import EmulatorConfig
from emulator.testing import TaskEmulator

ROOT = Path(__file__).resolve().parent.parent
CI = ROOT / "examples" / "ci"
HEALTH = "task-emulator health --url http://127.0.0.1:8080"


def load(name: str) -> Any:
    return yaml.safe_load((CI / name).read_text(encoding="utf-8"))


def serve_variables() -> set[str]:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    help_text = commands.choices["serve"].format_help()
    return set(re.findall(r"TASK_EMULATOR_[A-Z_]+", help_text))


def test_the_dockerfile_is_what_the_examples_rely_on() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^ARG BASE_IMAGE=python:3\.12-slim$", text, re.MULTILINE)
    assert re.search(r"^EXPOSE 8080$", text, re.MULTILINE)
    assert re.search(r"^USER emulator$", text, re.MULTILINE)
    assert 'ENTRYPOINT ["task-emulator"]' in text and 'CMD ["serve"]' in text
    assert "CMD task-emulator health --url" in text
    assert "pip install -e" not in text and "--editable" not in text
    for name in re.findall(r"TASK_EMULATOR_[A-Z_]+", text):
        assert name in serve_variables(), f"the Dockerfile sets {name}, which `serve` does not read"


def test_the_dockerignore_keeps_what_the_wheel_needs() -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*", "everything is left out first, then what the wheel needs is let in"
    kept = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert kept == {"pyproject.toml", "README.md", "emulator", "scenarios", "schemas"}


def test_compose_starts_the_app_once_the_emulator_is_healthy() -> None:
    services = load("compose.yaml")["services"]
    emulator, app = services["emulator"], services["app"]
    assert (CI / emulator["build"]["context"] / "Dockerfile").is_file()
    assert " ".join(emulator["healthcheck"]["test"][1:]) == HEALTH
    assert app["depends_on"]["emulator"]["condition"] == "service_healthy"
    assert app["environment"]["EMULATOR_URL"] == "http://emulator:8080"
    for volume in emulator["volumes"]:
        source, target, *_ = volume.split(":")
        assert target == "/scenarios" and (CI / source).is_dir()
    assert set(emulator["environment"]) <= serve_variables()
    assert (CI / app["command"][-1]).is_file()


def test_the_github_actions_service_has_a_health_check() -> None:
    workflow = load("github-actions.yml")
    job = workflow["jobs"]["test"]
    service = job["services"]["task-emulator"]
    assert f'--health-cmd "{HEALTH}"' in service["options"]
    assert "8080:8080" in service["ports"]
    assert set(service["env"]) <= serve_variables()
    assert job["env"]["EMULATOR_URL"] == "http://localhost:8080"


def test_the_gitlab_service_has_an_alias() -> None:
    job = load("gitlab-ci.yml")["test"]
    (service,) = job["services"]
    assert service["alias"] == "emulator"
    assert job["variables"]["EMULATOR_URL"] == f"http://{service['alias']}:8080"
    assert set(service["variables"]) <= serve_variables()


def test_the_docs_name_every_variable_serve_reads_and_no_other() -> None:
    text = (ROOT / "docs" / "docker.md").read_text(encoding="utf-8")
    table = set(re.findall(r"^\| `(TASK_EMULATOR_[A-Z_]+)` \|", text, re.MULTILINE))
    assert table == serve_variables()
    assert set(re.findall(r"TASK_EMULATOR_[A-Z_]+", text)) - {"TASK_EMULATOR_TEST_BASE_IMAGE"} <= table


def test_the_docs_yaml_snippets_parse() -> None:
    text = (ROOT / "docs" / "docker.md").read_text(encoding="utf-8")
    snippets = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert len(snippets) == 3
    for snippet in snippets:
        assert isinstance(yaml.safe_load(snippet), dict)
        assert "--health-cmd" not in snippet or HEALTH in snippet


def test_the_sidecar_smoke_script_runs_against_an_emulator() -> None:
    with TaskEmulator.start(EmulatorConfig(clock="real", time_scale=60)) as emulator:
        result = subprocess.run(
            [sys.executable, str(CI / "smoke.py")],
            env={**os.environ, "EMULATOR_URL": emulator.url, "SMOKE_TIMEOUT": "30"},
            check=False, capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "emulator: ok" in result.stdout
    assert "SUCCEEDED: ACME renewal complete. 2 certs renewed, 0 errors." in result.stdout


# `podman build`, `buildah build` or `buildah bud`, up to the end of the line or inline code.
OTHER_BUILDERS = re.compile(r"\b(?:podman|buildah)\s+(?:build|bud)\b[^`\n]*")


def test_podman_and_buildah_builds_keep_the_healthcheck() -> None:
    """Both build OCI images by default, and an OCI image drops the HEALTHCHECK: every such
    build the docs and examples show asks for Docker's image format."""
    docs = (ROOT / "docs" / "docker.md").read_text(encoding="utf-8")
    docker_build = re.search(r"^docker build -t task-emulator \.$", docs, re.MULTILINE)
    assert docker_build, "docs/docker.md no longer shows the plain docker build"
    for marker, tool in (("podman-build", "podman build"), ("buildah-build", "buildah build")):
        shown = re.search(rf"<!-- {marker} -->\s*```sh\n(.*?)\n```", docs, re.DOTALL)
        assert shown, f"docs/docker.md does not show how to build with {tool}"
        assert shown.group(1) == f"{tool} --format docker -t task-emulator ."
    commands = []
    for path in [ROOT / "README.md", ROOT / "docs" / "docker.md", *sorted(CI.iterdir())]:
        text = path.read_text(encoding="utf-8")
        commands += [(path.name, command) for command in OTHER_BUILDERS.findall(text)]
    assert len(commands) >= 3
    assert [(name, c) for name, c in commands if "--format docker" not in c] == []
