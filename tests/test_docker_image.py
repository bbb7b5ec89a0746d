"""The Dockerfile really builds, and the image's own HEALTHCHECK really passes.

There is no Docker engine and no registry here, so the image is built with buildah, by the
command docs/docker.md gives (`buildah build --format docker`: in the OCI format the
HEALTHCHECK would be dropped), with `--isolation chroot`, on top of a base image this test
makes itself (a minimal Debian from `debootstrap`, imported with `podman import`), passed in
through the Dockerfile's BASE_IMAGE build argument. The image's configuration must carry the
HEALTHCHECK the Dockerfile declares. The server is then started inside the image, as its
ENTRYPOINT and CMD say, in a network namespace of its own (chroot isolation shares the
caller's network, so `unshare --net` keeps port 8080 off this machine's addresses), and the
image's HEALTHCHECK command is run next to it until it passes.

The debootstrapped base is cached as a tarball (TASK_EMULATOR_BASE_CACHE, default
/var/tmp/task-emulator-base), so only the first run pays for it. TASK_EMULATOR_TEST_BASE_IMAGE
names an existing base image to use instead (python:3.12-slim where one can be pulled).

Skipped where the tools are missing or cannot run (not root); under CI=true as root that
is a failure instead, since .ci/run installs them there.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ("buildah", "podman", "debootstrap", "unshare", "ip")
INSTALL_HINT = "apt-get install buildah podman debootstrap iproute2"

# What the base needs: Python with venv (the Dockerfile installs into /opt/venv) and the CA
# bundle pip checks the index against. Changing this list changes the cache key.
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("python3", "python3-venv", "ca-certificates")
BASE_KEY = f"{SUITE}-minbase-" + "-".join(PACKAGES)
BASE_TAG = f"localhost/task-emulator-test-base:{SUITE}"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _unavailable() -> str | None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "building the image needs root (buildah --isolation chroot, debootstrap, unshare)"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return f"not installed: {', '.join(missing)} ({INSTALL_HINT})"
    for probe in (["buildah", "info"], ["unshare", "--net", "true"]):
        try:
            result = subprocess.run(probe, check=False, capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            return f"`{' '.join(probe)}` did not answer within 60 s"
        if result.returncode != 0:
            return f"`{' '.join(probe)}` cannot run here: {result.stderr.strip()[:300]}"
    return None


_reason = _unavailable()
if _reason is not None:
    if os.environ.get("CI") == "true" and hasattr(os, "geteuid") and os.geteuid() == 0:
        # .ci/run installs the tools; a skip in CI would hide a broken image.
        pytest.fail(f"CI cannot build the image: {_reason}", pytrace=False)
    pytest.skip(f"cannot build the image here: {_reason}", allow_module_level=True)


def run(args: list[str], timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command, bounded in time; on failure show what it printed."""
    result = subprocess.run(
        args, check=False, capture_output=True, text=True, timeout=timeout, **kwargs
    )
    if result.returncode != 0:
        pytest.fail(
            f"`{' '.join(args[:4])} …` exited {result.returncode}\n"
            f"--- stdout (end)\n{result.stdout[-4000:]}\n--- stderr (end)\n{result.stderr[-4000:]}",
            pytrace=False,
        )
    return result


def make_base_tarball(target: Path) -> None:
    """debootstrap a minimal Debian with Python into a tarball at `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix="rootfs-") as work:
        rootfs = Path(work) / "rootfs"
        run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE,
             str(rootfs), MIRROR],
            timeout=900,
        )
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
        # The base trusts the extra CAs this machine trusts, so that pip inside the build
        # reaches the index as pip here does (some networks re-sign TLS on the way).
        extra = Path("/usr/local/share/ca-certificates")
        if extra.is_dir():
            for cert in extra.glob("*.crt"):
                shutil.copy(cert, rootfs / "usr/local/share/ca-certificates" / cert.name)
            run(["chroot", str(rootfs), "update-ca-certificates"], timeout=120)
        partial = Path(work) / "base.tar"
        run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."], timeout=300)
        partial.replace(target)  # whole or not at all, so a cut-short run leaves no bad cache


@pytest.fixture(scope="module")
def base_image() -> str:
    given = os.environ.get("TASK_EMULATOR_TEST_BASE_IMAGE")
    if given:
        return given
    cache = Path(os.environ.get("TASK_EMULATOR_BASE_CACHE", "/var/tmp/task-emulator-base"))
    tarball = cache / f"{BASE_KEY}.tar"
    if not tarball.exists():
        make_base_tarball(tarball)
    tag = f"{BASE_TAG}-{int(tarball.stat().st_mtime)}"  # a remade tarball gets a new image
    if subprocess.run(["podman", "image", "exists", tag], check=False, timeout=60).returncode != 0:
        # podman reads the file twice (digest, then copy): a run next to this one that
        # replaces the cached tarball in between would break the import. A link of our own
        # keeps this run's file whatever the cache's name comes to point at.
        own = tarball.with_name(f"{tarball.name}.{os.getpid()}.import")
        os.link(tarball, own)
        try:
            run(
                [
                    "podman", "import",
                    "--change", f"ENV PATH={PATH}",
                    "--change", "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
                    str(own), tag,
                ],
                timeout=300,
            )
        finally:
            own.unlink()
    return tag


def documented_command(marker: str) -> list[str]:
    """The command in the code block under `<!-- marker -->` in docs/docker.md."""
    text = (ROOT / "docs" / "docker.md").read_text(encoding="utf-8")
    match = re.search(re.escape(f"<!-- {marker} -->") + r"\s*```sh\n(.*?)\n```", text, re.DOTALL)
    assert match, f"docs/docker.md has no {marker} block"
    return shlex.split(match.group(1))


def build_as_documented(context: Path, tag: str, *extra: str) -> None:
    """Build `context` by the docs' buildah command, run the way this machine can run it."""
    words = documented_command("buildah-build")
    assert words[:2] == ["buildah", "build"] and words[-3:] == ["-t", "task-emulator", "."]
    run(
        [*words[:2], "--isolation", "chroot", "--pull=false", *extra, *words[2:-3],
         "--tag", tag, str(context)],
        timeout=900,
    )


@pytest.fixture(scope="module")
def image(base_image: str) -> Iterator[str]:
    tag = f"localhost/task-emulator-test:{uuid.uuid4().hex[:12]}"
    build_as_documented(ROOT, tag, "--build-arg", f"BASE_IMAGE={base_image}")
    try:
        yield tag
    finally:
        subprocess.run(
            ["buildah", "rmi", "--force", tag], check=False, capture_output=True, timeout=120
        )


@pytest.fixture(scope="module")
def config(image: str) -> dict[str, Any]:
    result = run(["buildah", "inspect", "--type", "image", image], timeout=60)
    docker_config: dict[str, Any] = json.loads(result.stdout)["Docker"]["config"]
    return docker_config


def healthcheck_as_podman_shows_it(image: str) -> Any:
    """What the docs' `podman image inspect` command prints for `image`, parsed."""
    words = documented_command("healthcheck-inspect")
    assert words[-1] == "task-emulator"
    return json.loads(run([*words[:-1], image], timeout=60).stdout)


def dockerfile_healthcheck() -> dict[str, str]:
    """The HEALTHCHECK options of the Dockerfile (`--interval=10s` → {"interval": "10s"})."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    line = re.search(r"^HEALTHCHECK (.*?) CMD ", text, re.MULTILINE)
    assert line, "the Dockerfile has no HEALTHCHECK"
    return dict(re.findall(r"--([a-z-]+)=(\S+)", line.group(1)))


def seconds(text: str) -> int:
    """`10s` or `1m` as nanoseconds, as image configurations keep them."""
    unit = {"s": 1, "m": 60, "h": 3600}[text[-1]]
    return int(float(text[:-1]) * unit * 1_000_000_000)


@pytest.fixture
def container(image: str) -> Iterator[str]:
    name = run(["buildah", "from", "--pull=false", image], timeout=120).stdout.strip()
    try:
        yield name
    finally:
        subprocess.run(["buildah", "rm", name], check=False, capture_output=True, timeout=120)


def test_the_image_is_configured_as_documented(config: dict[str, Any]) -> None:
    assert config["Entrypoint"] == ["task-emulator"]
    assert config["Cmd"] == ["serve"]
    assert config["User"] == "emulator"
    assert "8080/tcp" in config["ExposedPorts"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["TASK_EMULATOR_HOST"] == "0.0.0.0"
    assert env["TASK_EMULATOR_PORT"] == "8080"
    assert env["TASK_EMULATOR_SCENARIOS"] == "/scenarios"
    kind, command = config["Healthcheck"]["Test"]
    assert kind == "CMD-SHELL"
    assert command.startswith("task-emulator health --url ")


def test_the_image_carries_the_healthcheck_the_dockerfile_declares(
    image: str, config: dict[str, Any]
) -> None:
    declared = dockerfile_healthcheck()
    healthcheck = config["Healthcheck"]
    assert healthcheck["Interval"] == seconds(declared["interval"])
    assert healthcheck["Timeout"] == seconds(declared["timeout"])
    assert healthcheck["StartPeriod"] == seconds(declared["start-period"])
    assert healthcheck["Retries"] == int(declared["retries"])
    # The same, as podman reports it with the command docs/docker.md gives.
    assert healthcheck_as_podman_shows_it(image) == healthcheck


def test_only_the_docker_format_keeps_a_healthcheck(tmp_path: Path) -> None:
    """Why the docs say `--format docker`: the same two lines, built in each format."""
    (tmp_path / "Dockerfile").write_text("FROM scratch\nHEALTHCHECK --retries=2 CMD true\n")
    tag = f"localhost/task-emulator-format-test:{uuid.uuid4().hex[:12]}"
    try:
        build_as_documented(tmp_path, tag + "-docker")
        assert healthcheck_as_podman_shows_it(tag + "-docker") == {
            "Test": ["CMD-SHELL", "true"], "Retries": 2,
        }
        oci = run(["buildah", "build", "--isolation", "chroot", "--format", "oci", "--tag",
                   tag + "-oci", str(tmp_path)], timeout=300)
        assert "HEALTHCHECK is not supported for OCI image format" in oci.stderr
        assert healthcheck_as_podman_shows_it(tag + "-oci") is None
    finally:
        for suffix in ("-docker", "-oci"):
            subprocess.run(["buildah", "rmi", "--force", tag + suffix], check=False,
                           capture_output=True, timeout=120)


# Run inside the container as `sh -c SCRIPT sh ENTRYPOINT... CMD...`: start the server as the
# image would, run the health command until it passes (or the server dies, or 30 s pass),
# check that the Redis client is there, list the loaded scenarios, then stop the server
# with SIGTERM, which must end it with exit status 0.
SCRIPT = """
"$@" >/tmp/serve.log 2>&1 &
server=$!
healthy=no
i=0
while [ $i -lt 60 ]; do
  if sh -c "$HEALTH_COMMAND" >/tmp/health.log 2>&1; then healthy=yes; break; fi
  kill -0 $server 2>/dev/null || break
  sleep 0.5
  i=$((i + 1))
done
echo "healthy: $healthy after $i tries"
echo "user: $(id -un)"
python3 -c "import redis; print('redis client:', redis.__version__)"
python3 -c "import urllib.request as u; print('scenarios:', u.urlopen('http://127.0.0.1:8080/_emulator/scenarios', timeout=3).read().decode())"
kill -TERM $server 2>/dev/null
wait $server
echo "server exit: $?"
echo "--- health"; cat /tmp/health.log
echo "--- server"; cat /tmp/serve.log
"""

def test_the_health_check_passes_in_the_container(container: str, config: dict[str, Any]) -> None:
    health = config["Healthcheck"]["Test"][1]
    command = [*config["Entrypoint"], *config["Cmd"]]
    result = run(
        [
            # A network namespace of its own: the server's 0.0.0.0:8080 stays inside it.
            "unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
            "buildah", "run", "--isolation", "chroot", "--env", f"HEALTH_COMMAND={health}",
            # As docs/docker.md does it: the example scenarios mounted at /scenarios.
            "--volume", f"{ROOT / 'examples' / 'scenarios'}:/scenarios:ro",
            container, "--", "sh", "-c", SCRIPT, "sh", *command,
        ],
        timeout=180,
    )
    out = result.stdout
    assert "healthy: yes" in out, out
    assert "user: emulator" in out, out
    assert "redis client: " in out, "the image lacks the 'redis' extra (TASK_EMULATOR_STORE)\n" + out
    assert "server exit: 0" in out, out
    assert "listening on http://127.0.0.1:8080" in out, out
    assert "half-hour-renewal" in out, "the scenarios mounted at /scenarios were not loaded\n" + out
