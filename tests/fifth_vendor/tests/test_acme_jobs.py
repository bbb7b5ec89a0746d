"""Acme Jobs' own tests, through task-emulator's pytest fixture: they need the package
installed (pip install .), which puts its entry point where task-emulator finds it."""

from __future__ import annotations

import importlib.util

import pytest
import requests

from emulator.testing import TaskEmulator

if importlib.util.find_spec("acme_jobs") is None:
    pytest.skip("Acme Jobs is not installed (pip install . in its folder)", allow_module_level=True)


def test_a_job_made_through_the_handle(task_emulator: TaskEmulator) -> None:
    job = task_emulator.create_task("acme_jobs", "nightly-export")
    assert job.status_url == f"{task_emulator.url}/acme/jobs/{job.id}"
    assert requests.get(job.status_url, timeout=5).json() == {"id": job.id, "state": "queued"}
    task_emulator.advance(15)
    running = requests.get(job.status_url, timeout=5).json()
    assert running == {"id": job.id, "state": "running", "message": "exporting"}
    task_emulator.advance(30)
    assert job.phase == "succeeded"
    done = requests.get(job.status_url, timeout=5).json()
    assert done == {"id": job.id, "state": "done", "message": "exported 120 rows"}


def test_a_job_failed_by_the_test_shows_why(task_emulator: TaskEmulator) -> None:
    job = task_emulator.create_task("acme_jobs", "nightly-export")
    task_emulator.fail(job, "disk full")
    failed = requests.get(job.status_url, timeout=5).json()
    assert failed == {"id": job.id, "state": "failed", "message": "disk full"}


def test_a_job_started_through_its_trigger(task_emulator: TaskEmulator) -> None:
    answer = requests.post(f"{task_emulator.url}/acme/jobs", json={"kind": "export"}, timeout=5)
    assert answer.status_code == 202
    job = answer.json()["id"]
    assert answer.headers["Location"] == f"/acme/jobs/{job}"
    status_url = task_emulator.url + answer.headers["Location"]
    assert requests.get(status_url, timeout=5).json()["state"] == "queued"
    task_emulator.advance(60)
    done = requests.get(status_url, timeout=5).json()
    assert done == {"id": job, "state": "done", "message": "exported 120 rows"}
    # The journal files the start and both reads under the job.
    journal = task_emulator.requests("acme_jobs", task=job)
    assert [(r["method"], r["status"]) for r in journal] == [
        ("POST", 202), ("GET", 200), ("GET", 200)
    ]
    assert task_emulator.new_violations() == []


def test_a_fault_on_the_running_step_hits_only_its_reads(task_emulator: TaskEmulator) -> None:
    job = task_emulator.create_task("acme_jobs", "nightly-export")
    task_emulator.inject("error", task=job, step="running", status=503, retry_after=2)
    assert requests.get(job.status_url, timeout=5).status_code == 200  # still queued
    task_emulator.advance(15)
    refused = requests.get(job.status_url, timeout=5)
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "2"
    assert refused.json() == {"error": "Service Unavailable"}


def test_what_acme_refuses(task_emulator: TaskEmulator) -> None:
    unknown = requests.post(f"{task_emulator.url}/acme/jobs", json={"kind": "x"}, timeout=5)
    assert (unknown.status_code, unknown.json()) == (400, {"error": "unknown kind 'x'"})
    missing = requests.get(f"{task_emulator.url}/acme/jobs/99", timeout=5)
    assert (missing.status_code, missing.json()) == (404, {"error": "no such job"})
    assert task_emulator.new_violations() == []
