"""A stand-in for your application's CI step: talk to the emulator sidecar at $EMULATOR_URL.

It starts a Traffic Ops ACME renewal through the control API, logs in as the vendor's
client would, and polls the task until it completes. Standard library only, so it runs in
any python image. compose.yaml and the CI examples run it next to the emulator; the test
suite runs it against an emulator in-process.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import sys
import time
import urllib.request
from typing import Any

BASE = os.environ.get("EMULATOR_URL", "http://127.0.0.1:8080").rstrip("/")
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def call(method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with opener.open(request, timeout=10) as response:
        return json.load(response)


def main() -> int:
    print("emulator:", call("GET", "/_emulator/health")["status"])
    task = call("POST", "/_emulator/tasks", {"api": "traffic_ops", "scenario": "acme-autorenew"})
    call("POST", "/api/4.0/user/login", {"u": "admin", "p": "twelve12"})
    deadline = time.monotonic() + float(os.environ.get("SMOKE_TIMEOUT", "120"))
    while time.monotonic() < deadline:
        status = call("GET", f"/api/4.0/async_status/{task['id']}")["response"]
        print(f"task {task['id']}: {status['status']}: {status['message']}")
        if status["status"] != "PENDING":
            return 0 if status["status"] == "SUCCEEDED" else 1
        time.sleep(0.5)
    print("the task did not finish in time", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
