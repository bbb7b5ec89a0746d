"""docs/verify.md and docs/record.md are run as a person would run them (servers on free
ports instead of 8080-8082), and the example CI job's commands are parsed by the CLI."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from emulator.cli import build_parser, main
from emulator.contract.credentials import ENV_PREFIX, KNOWN_KEYS
from emulator.contract.vendors import CONTRACTS

ROOT = Path(__file__).resolve().parent.parent
VERIFY, RECORD = ROOT / "docs" / "verify.md", ROOT / "docs" / "record.md"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def block(path: Path, marker: str) -> str:
    match = re.search(rf"<!-- {marker} -->\s*```[a-z]*\n(.*?)```", path.read_text(), re.DOTALL)
    assert match, f"no block {marker} in {path.name}"
    return match.group(1)


def commands(text: str, ports: dict[str, int]) -> list[list[str]]:
    """The block's commands as argument lists: continuation lines joined, the documented
    ports replaced, `task-emulator` run from this source tree."""
    for documented, port in ports.items():
        text = text.replace(documented, str(port))
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0] == "task-emulator":
            words = [sys.executable, "-m", "emulator", *words[1:]]
        if words:
            found.append(words)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(words: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        words, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=30, check=False
    )


class Background:
    """A documented long-running command, stopped with SIGINT as a person's Ctrl-C."""

    def __init__(self, words: list[str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            words, cwd=cwd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def stop(self) -> tuple[int, str, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        out, err = self.process.communicate(timeout=15)
        return self.process.returncode, out, err


def wait_healthy(port: int) -> None:
    """What `task-emulator health` asks, without starting a Python per try."""
    import urllib.request

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/_emulator/health", timeout=1
            ) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"no emulator became healthy on port {port}")


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")


def output_pattern(text: str) -> re.Pattern[str]:
    """The documented output as a pattern: numbers (ids, ports, counts) may differ, a run of
    similar poll lines may be longer or shorter, a `x1` repeat count is written as nothing."""
    lines: list[str] = []
    for line in text.splitlines():
        pattern = re.sub(r"\\ x\d+", "(?: x\\\\d+)?", re.escape(line))
        pattern = re.sub(r"\d+", r"\\d+", pattern)
        pattern = pattern.replace(r"(?: x\\d+)?", r"(?: x\d+)?")
        if lines and lines[-1] == f"(?:{pattern}\\n)+":
            continue
        lines.append(
            f"(?:{pattern}\\n)+" if "poll" in line and "phases" not in line else pattern + "\\n"
        )
    return re.compile("".join(lines))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    port = free_port()
    (serve,) = commands(block(VERIFY, "verify-serve"), {"8080": port})
    server = Background(serve, tmp_path)
    try:
        wait_healthy(port)
        (tmp_path / "traffic-ops.yaml").write_text(block(VERIFY, "verify-credentials"))
        yield port, tmp_path
    finally:
        server.stop()


def test_the_first_run_of_verify_md(served: tuple[int, Path]) -> None:
    port, cwd = served
    (verify,) = commands(block(VERIFY, "verify-command"), {"8080": port})
    done = run(verify, cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    assert output_pattern(block(VERIFY, "verify-output")).fullmatch(done.stdout), done.stdout
    assert "<testsuite" in (cwd / "reports" / "verify.xml").read_text()
    # Then the journal of what verify did, exported and checked as the page shows.
    script = block(VERIFY, "verify-journal").replace("8080", str(port))
    script = script.replace("task-emulator", f"{sys.executable} -m emulator")
    checked = subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "the source keeps no response bodies" in checked.stdout


def test_the_run_of_record_md(tmp_path: Path) -> None:
    ports = {"8080": free_port(), "8081": free_port(), "8082": free_port()}
    (tmp_path / "traffic-ops.yaml").write_text(block(VERIFY, "verify-credentials"))
    (upstream_command,) = commands(block(RECORD, "record-upstream"), ports)
    upstream = Background(upstream_command, tmp_path)
    proxy = replay = None
    try:
        wait_healthy(ports["8080"])
        (record,) = commands(block(RECORD, "record-command"), ports)
        proxy = Background(record, tmp_path)
        wait_listening(ports["8081"])
        (client,) = commands(block(RECORD, "record-client"), ports)
        through = run(client, tmp_path)
        assert through.returncode == 0, through.stdout + through.stderr
        code, out, err = proxy.stop()
        assert code == 0, err
        assert "twelve12" not in out + err
        (file,) = (tmp_path / "recorded").glob("traffic_ops-recorded-*.yaml")
        recorded, documented = (
            yaml.safe_load(file.read_text()),
            yaml.safe_load(block(RECORD, "record-output")),
        )
        assert recorded.keys() == documented.keys()
        assert recorded["trigger"] == documented["trigger"]
        assert recorded["lifecycle"][-1] == documented["lifecycle"][-1]
        example = tmp_path / "example" / "documented.yaml"
        example.parent.mkdir()
        example.write_text(block(RECORD, "record-output"))
        assert main(["check", str(example)]) == 0
        check, serve = commands(block(RECORD, "record-replay"), ports)
        assert check[3:] == ["check", "recorded/"]
        assert main(["check", str(tmp_path / "recorded")]) == 0  # in this process: a second saved
        replay = Background(serve, tmp_path)
        wait_healthy(ports["8082"])
        client_again = [w.replace(str(ports["8081"]), str(ports["8082"])) for w in client]
        again = run(client_again, tmp_path)
        assert again.returncode == 0, again.stdout
        assert re.search(r"phases of task \d+: PENDING x\d+ -> SUCCEEDED", again.stdout), (
            again.stdout
        )
    finally:
        for background in (replay, proxy, upstream):
            if background is not None:
                background.stop()


def test_the_example_ci_job_runs_verify_nightly_with_options_that_exist() -> None:
    job = yaml.safe_load((ROOT / "examples" / "ci" / "verify-staging.yml").read_text())
    triggers = job[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"][0]["cron"]
    verify = job["jobs"]["verify"]
    assert {item["api"] for item in verify["strategy"]["matrix"]["include"]} == set(CONTRACTS)
    documented = {ENV_PREFIX + key.upper() for key in KNOWN_KEYS}
    assert set(verify["env"]) <= documented
    (step,) = [s for s in verify["steps"] if "task-emulator verify" in s.get("run", "")]
    for item in verify["strategy"]["matrix"]["include"]:
        line = (
            step["run"]
            .replace("${{ matrix.api }}", item["api"])
            .replace("${{ matrix.base_url }}", item["base_url"])
        )
        args = build_parser().parse_args(shlex.split(line)[1:])
        assert (
            args.command == "verify"
            and args.junit_xml is not None
            and args.base_url == item["base_url"]
        )
