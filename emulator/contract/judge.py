"""Judging a run: every exchange the contract knows is checked (status, headers, body
against the emulator's own schema, the vendor's promises), then each task's observations
in order (the phase sequence). The same code judges a live run, a HAR file, a journal export.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..schemas import SchemaSet
from .checks import check_body, check_content_type, check_sequence, check_status, parse_json
from .model import CheckResult, Exchange, Observation, Report, Violation
from .vendors import VendorContract


def judge(
    contract: VendorContract,
    exchanges: Sequence[Exchange],
    schemas: SchemaSet,
    *,
    source: str,
    labels: Mapping[int, str] | None = None,
) -> Report:
    """A report on `exchanges` (in the order they happened). `labels` names exchanges by
    their index (`login`, `poll 3` …) where the caller knows what it sent."""
    report = Report(contract.api, source, exchanges=list(exchanges))
    observed: dict[str, list[Observation]] = {}
    ignored = 0
    no_headers = no_bodies = False
    for exchange in exchanges:
        route = contract.route(exchange)
        if route is None:
            ignored += 1
            continue
        label = (labels or {}).get(exchange.index, route.kind)
        status = "no answer" if exchange.status is None else str(exchange.status)
        result = CheckResult(f"{label}: {exchange.target} -> {status}")
        report.checks.append(result)
        result.violations += check_status(exchange.status, route.expected, exchange.error)
        # The journal's verdict on a body becomes a violation below, the rest are notes.
        result.notes += [n for n in exchange.source_notes if not n.startswith("violation: ")]
        if exchange.status is None:
            continue
        answer = route.answers.get(exchange.status)
        if exchange.response_headers is None:
            no_headers = True
        elif answer is not None:
            if answer.media is not None:
                result.violations += check_content_type(
                    exchange.header("Content-Type"), answer.media
                )
            result.violations += contract.header_violations(exchange, route)
        body: Any = None
        if exchange.body is None:
            no_bodies = True
        elif answer is not None and answer.schema is not None:
            body, problem = parse_json(exchange.body)
            if problem is not None:
                result.violations.append(problem)
            else:
                name = f"{contract.api}/{answer.schema}.schema.json"
                result.violations += check_body(schemas, name, body)
                result.violations += contract.answer_violations(exchange, route, body)
        if exchange.body is None and any(
            n.startswith("violation: ") for n in exchange.source_notes
        ):
            # The journal's own verdict on the body it did not keep.
            note = next(n for n in exchange.source_notes if n.startswith("violation: "))
            result.violations.append(
                Violation(
                    "body", "$", "a body that fits its schema (the emulator's verdict)", note[11:]
                )
            )
        for seen in contract.observe(exchange, route, body):
            observed.setdefault(seen.task, []).append(seen)
            for sub in seen.subtasks:
                observed.setdefault(sub.task, []).append(sub)
    for task, sequence in observed.items():
        shown = [seen.shown for seen in sequence]
        report.phases[task] = shown
        result = CheckResult(f"phases of task {task}: {' -> '.join(_runs(shown))}")
        result.violations += check_sequence(sequence)
        report.checks.append(result)
    if ignored:
        report.notes.append(f"{ignored} request(s) not of the {contract.api} contract: not checked")
    if no_headers:
        report.notes.append(
            "the source keeps no response headers: content types and headers not checked"
        )
    if no_bodies:
        report.notes.append(
            "the source keeps no response bodies: bodies not checked against their schemas, "
            "phases read from status codes where they say one"
        )
    return report


def _runs(shown: Sequence[str]) -> list[str]:
    """`PENDING x3`, not `PENDING -> PENDING -> PENDING`."""
    runs: list[list[Any]] = []
    for word in shown:
        if runs and runs[-1][0] == word:
            runs[-1][1] += 1
        else:
            runs.append([word, 1])
    return [f"{word} x{count}" if count > 1 else str(word) for word, count in runs]
