"""Acme Jobs, a task-emulator API installed as a plugin: `POST /acme/jobs` starts a job,
`GET /acme/jobs/{id}` reads its state. Registered by its entry point (pyproject.toml)."""

from __future__ import annotations

from .api import AcmeJobs

__all__ = ["AcmeJobs"]
