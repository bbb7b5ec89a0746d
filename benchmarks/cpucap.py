"""A process held to a share of one core by the kernel (a cgroup's CPU quota), so that a
scaling run measures the servers, not the machine: with each worker held to 0.4 of a core,
two workers need 0.8 of this 2-core machine's cores, and the load generator and Redis have
the rest. Needs root and a cgroup file system with the cpu controller (v1 or v2)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Self

PERIOD_US = 100_000
V1 = Path("/sys/fs/cgroup/cpu")
V2 = Path("/sys/fs/cgroup")


def cap_problem() -> str | None:
    """Why processes cannot be capped here, or None."""
    if os.geteuid() != 0:
        return "capping a process's CPU needs root (a cgroup of its own)"
    if (V1 / "cgroup.procs").exists() and os.access(V1, os.W_OK):
        return None
    if "cpu" in _read(V2 / "cgroup.subtree_control").split() and os.access(V2, os.W_OK):
        return None
    return "no writable cgroup file system with the cpu controller"


class CpuCap:
    """A cgroup that holds the processes put in it to `share` of one core, in all."""

    def __init__(self, name: str, share: float) -> None:
        self.share = share
        self._v1 = (V1 / "cgroup.procs").exists()
        self.path = (V1 if self._v1 else V2) / name
        self._parent = self.path.parent

    def __enter__(self) -> Self:
        self.path.mkdir(exist_ok=True)
        quota = int(self.share * PERIOD_US)
        if self._v1:
            (self.path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (self.path / "cpu.cfs_quota_us").write_text(str(quota))
        else:
            (self.path / "cpu.max").write_text(f"{quota} {PERIOD_US}")
        return self

    def add(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(str(pid))

    def __exit__(self, *exc: object) -> None:
        # A cgroup is removed only once empty: what is left goes back to the parent.
        for pid in _read(self.path / "cgroup.procs").split():
            try:
                (self._parent / "cgroup.procs").write_text(pid)
            except OSError:
                pass  # gone meanwhile
        try:
            self.path.rmdir()
        except OSError:
            pass


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
