"""What the recording proxy keeps of the traffic: every task it sees (made by a trigger it
forwarded, or only polled), and the scenario file of each, rewritten as the task moves.

A file is written whole to a temporary name, then renamed: a proxy stopped at any moment
leaves only whole scenarios. Each one is checked as `task-emulator check` would, and a
problem is logged (it would be a bug here, not in the user's traffic).
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from ..apis import API_CLASSES
from ..errors import ConfigError
from ..scenario_loader import check_files
from ..state import load_schemas
from .credentials import Secrets
from .model import Exchange
from .scenario_writer import RecordedTask, scenario, to_yaml
from .vendors import VendorContract

log = logging.getLogger("task_emulator.record")


class Recorder:
    def __init__(self, contract: VendorContract, out: Path, secrets: Secrets) -> None:
        self.contract = contract
        self.out = out
        self.secrets = secrets
        self.tasks: dict[str, RecordedTask] = {}
        self.written: dict[str, Path] = {}  # task id -> its file
        self._texts: dict[str, str] = {}
        self._count = 0
        self._schemas = load_schemas()
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ConfigError(f"--out: cannot make {out}: {error.strerror or error}") from None
        # Names already in DIR (from an earlier recording) are not taken again.
        self._taken = {p.name for p in out.glob("*.yaml")}

    def add(self, exchange: Exchange) -> Path | None:
        """Take one forwarded exchange; the scenario file it changed, if any."""
        self.secrets.learn_headers(exchange.request_headers)
        self.secrets.learn_headers(exchange.response_headers or ())
        self.secrets.learn_body(exchange.request_body)
        self._count += 1
        exchange = _numbered(exchange, self._count)
        route = self.contract.route(exchange)
        if route is None or exchange.status is None:
            return None
        try:
            body: Any = json.loads(exchange.body) if exchange.body else None
        except (ValueError, RecursionError):
            body = None
        observations = self.contract.observe(exchange, route, body)
        at = exchange.time if exchange.time is not None else 0.0
        changed: set[str] = set()
        if route.kind == "trigger":
            task_id = self.contract.created_task(exchange, body) or next(
                (o.task for o in observations), None
            )
            if task_id is not None and task_id not in self.tasks:
                self.tasks[task_id] = RecordedTask(task_id, at, trigger=exchange)
                changed.add(task_id)
        for observation in observations:
            task = self.tasks.get(observation.task)
            if task is None:  # a task this proxy did not see made: it existed already
                task = self.tasks[observation.task] = RecordedTask(
                    observation.task, at, scope=self.contract.scope_of(exchange)
                )
            task.observations.append((at, observation))
            changed.add(observation.task)
        path = None
        for task_id in changed:
            path = self._write(self.tasks[task_id])
        return path

    def _write(self, task: RecordedTask) -> Path | None:
        path = self.written.get(task.id)
        name = path.stem.removeprefix(f"{self.contract.api}-") if path else self._name(task.id)
        text = self.secrets.mask(to_yaml(scenario(self.contract, task, name)))
        if self._texts.get(task.id) == text:
            return None
        path = path or self.out / f"{self.contract.api}-{name}.yaml"
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
        self._texts[task.id] = text
        first = task.id not in self.written
        self.written[task.id] = path
        problems = check_files([path], API_CLASSES, self._schemas)
        for problem in problems[:5]:
            log.error("the recorded scenario has a mistake (a bug of the recorder): %s", problem)
        phases = " -> ".join(dict.fromkeys(o.shown for _, o in task.observations)) or "started"
        log.info(
            "%s %s task %s: %s (%s)",
            "wrote" if first else "updated",
            self.contract.api,
            task.id,
            self.secrets.mask(phases),
            path.name,
        )
        return path

    def _name(self, task_id: str) -> str:
        """A scenario name from the task id (a-z, 0-9, '.', '_', '-'), unique in DIR."""
        base = (
            "recorded-"
            + (re.sub(r"[^a-z0-9._-]+", "-", task_id.lower()).strip("-.") or "task")[:60]
        )
        name, number = base, 1
        while f"{self.contract.api}-{name}.yaml" in self._taken:
            number += 1
            name = f"{base}-{number}"
        self._taken.add(f"{self.contract.api}-{name}.yaml")
        return name


def _numbered(exchange: Exchange, index: int) -> Exchange:
    from dataclasses import replace

    return replace(exchange, index=index)
