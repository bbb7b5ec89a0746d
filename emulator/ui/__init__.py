"""The dashboard: a page served at /_emulator/ui that drives the emulator through the control
API alone (see docs/dashboard.md).

Only static files are served here: the HTML, CSS and JavaScript in `static/`, read once
when the routes are added and answered from memory with an ETag. The page holds no state
and no secret, so it is not behind the admin token; every call it makes is a control API
call that carries the token the person typed. Nothing here runs on a vendor request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).resolve().parent / "static"
CONTENT_TYPES: Mapping[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Same-origin scripts and styles only, no framing, no referrer: the page talks to the
# emulator that served it and to nothing else.
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str


def load_static(folder: Path = STATIC) -> dict[str, StaticFile]:
    """The dashboard's files by name. A fixed set read at start-up: a request can only name
    one of them, so no path from a URL ever reaches the file system."""
    files = {}
    for path in sorted(folder.iterdir()):
        content_type = CONTENT_TYPES.get(path.suffix)
        if content_type is None or not path.is_file():
            continue
        body = path.read_bytes()
        files[path.name] = StaticFile(body, content_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    return files


def add_ui_routes(app: web.Application, files: Mapping[str, StaticFile] | None = None) -> None:
    """GET /ui (redirects to /ui/), /ui/ (the page) and /ui/<file> on `app`, the control
    sub-application mounted at /_emulator."""
    served = dict(load_static() if files is None else files)

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPMovedPermanently(request.path + "/")

    async def page(request: web.Request) -> web.StreamResponse:
        return _answer(request, served["index.html"])

    async def asset(request: web.Request) -> web.StreamResponse:
        found = served.get(request.match_info["name"])
        if found is None:
            return web.json_response({"error": f"no dashboard file {request.path}"}, status=404)
        return _answer(request, found)

    app.router.add_get("/ui", redirect)
    app.router.add_get("/ui/", page)
    app.router.add_get("/ui/{name}", asset)


def _answer(request: web.Request, file: StaticFile) -> web.Response:
    # no-cache: the browser asks again each load and gets a 304 while the file is the same,
    # so a newer emulator's page is never mixed with an older one's script.
    headers = {**SECURITY_HEADERS, "ETag": file.etag, "Cache-Control": "no-cache"}
    if request.headers.get("If-None-Match") == file.etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=file.body, headers={**headers, "Content-Type": file.content_type})


__all__ = ["STATIC", "StaticFile", "add_ui_routes", "load_static"]
