"""The scale run as a picture: poll throughput and memory against the number of live tasks.

Needs matplotlib (the `bench` extra); `python -m benchmarks.plot results.json out.png` redraws
a saved run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results.get("scale") or []
    if not rows:
        raise ValueError("the results hold no scale run (run with --only scale or all parts)")
    tasks = [r["tasks"] for r in rows]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(tasks, [r["rps"] for r in rows], marker="o")
    left.set_xscale("log")
    left.set_ylim(bottom=0)
    left.set_xlabel("live tasks")
    left.set_ylabel("Traffic Ops polls per second")
    left.set_title("Poll throughput")
    right.plot(tasks, [r["rss"] / 2**20 for r in rows], marker="o", label="server RSS (MiB)")
    right.set_xscale("log")
    right.set_xlabel("live tasks")
    right.set_ylabel("MiB")
    per_task = right.twinx()
    per_task.plot(tasks, [r["bytes_per_task"] for r in rows], marker="s", color="tab:orange",
                  label="bytes per task")
    per_task.set_ylabel("bytes per live task")
    per_task.set_ylim(bottom=0)
    right.set_title("Memory")
    handles = right.get_legend_handles_labels()[0] + per_task.get_legend_handles_labels()[0]
    right.legend(handles, [h.get_label() for h in handles], loc="upper left")
    s = results["settings"]
    figure.suptitle(f"task-emulator, {s['generator']} -c{s['connections']}, {s['duration']:g} s runs, "
                    f"{results['machine']['when']}", fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


if __name__ == "__main__":
    plot(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
