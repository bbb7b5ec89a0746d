"""A verify report as text (for a person), JUnit XML (for CI) and JSON (for scripts).

Every string goes through `Secrets.mask` on its way out: no credential reaches a terminal or
a file, even one a drifting provider echoed back in a body.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from .credentials import Secrets
from .model import Report


def text_report(report: Report, secrets: Secrets) -> str:
    lines = [f"task-emulator verify: {report.api} at {report.source}"]
    for check in report.checks:
        lines.append(f"  {'ok  ' if check.ok else 'FAIL'}  {check.name}")
        for violation in check.violations:
            lines.append(
                f"        {violation.check} {violation.where}: expected {violation.expected}, "
                f"got {violation.actual}"
            )
        for note in check.notes:
            lines.append(f"        note: {note}")
    for note in report.notes:
        lines.append(f"  note: {note}")
    failed = [check for check in report.checks if not check.ok]
    count = len(report.violations)
    lines.append(
        f"{len(report.checks)} check{_s(len(report.checks))}, {len(failed)} failed"
        + (f" ({count} violation{_s(count)})" if count else "")
        + ("" if report.checks else ": nothing of the contract was seen")
    )
    return secrets.mask("\n".join(lines))


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def json_report(report: Report, secrets: Secrets) -> str:
    data: dict[str, Any] = {
        "api": report.api,
        "source": report.source,
        "ok": report.ok,
        "checks": [
            {
                "name": check.name,
                "ok": check.ok,
                "violations": [v.to_json() for v in check.violations],
                "notes": check.notes,
            }
            for check in report.checks
        ],
        "phases": report.phases,
        "notes": report.notes,
    }
    return secrets.mask(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"


def junit_report(report: Report, secrets: Secrets) -> str:
    """One test suite, one test case per check; a check with violations is a failure whose
    text lists them. CI servers show these the way they show failed unit tests."""
    failures = sum(not check.ok for check in report.checks)
    suite = ET.Element(
        "testsuite",
        name=secrets.mask(f"task-emulator verify {report.api}"),
        tests=str(len(report.checks)),
        failures=str(failures),
        errors="0",
    )
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="source", value=secrets.mask(report.source))
    for check in report.checks:
        case = ET.SubElement(
            suite, "testcase", classname=f"verify.{report.api}", name=secrets.mask(check.name)
        )
        if check.violations:
            failure = ET.SubElement(
                case,
                "failure",
                message=secrets.mask(str(check.violations[0])),
                type="ContractViolation",
            )
            failure.text = secrets.mask("\n".join(str(v) for v in check.violations))
        if check.notes:
            ET.SubElement(case, "system-out").text = secrets.mask("\n".join(check.notes))
    if report.notes:
        ET.SubElement(suite, "system-out").text = secrets.mask("\n".join(report.notes))
    ET.indent(suite)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
    )


def write_text(path: Path, text: str) -> None:
    """Write a report file, making its folder; OSError is the caller's to report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
