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


# The routes below /_emulator (the control sub-application), open without the admin token.
PATHS = frozenset({"/ui", "/ui/", "/ui/{name}"})


def ui_routes(files: Mapping[str, StaticFile] | None = None) -> list[web.RouteDef]:
    """GET /ui (redirects to /ui/), /ui/ (the page) and /ui/<script or style sheet>, for
    the control sub-application mounted at /_emulator."""
    served = dict(_shipped() if files is None else files)

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPMovedPermanently(request.path + "/")

    async def page(request: web.Request) -> web.StreamResponse:
        return _answer(request, served["index.html"])

    async def asset(request: web.Request) -> web.StreamResponse:
        # A script or the style sheet, by the name of one of the files read at start-up:
        # nothing from the URL reaches the file system.
        name = request.match_info["name"]
        found = served.get(name) if name.endswith((".js", ".css")) else None
        if found is None:
            return web.json_response({"error": f"no dashboard file {request.path}"}, status=404)
        return _answer(request, found)

    return [web.get("/ui", redirect), web.get("/ui/", page), web.get("/ui/{name}", asset)]


_loaded: dict[str, StaticFile] = {}


def _shipped() -> dict[str, StaticFile]:
    # Read once per process: the files ship with the package and do not change under it.
    if not _loaded:
        _loaded.update(load_static())
    return _loaded


def _answer(request: web.Request, file: StaticFile) -> web.Response:
    # no-cache: the browser asks again each load and gets a 304 while the file is the same,
    # so a newer emulator's page is never mixed with an older one's script.
    headers = {**SECURITY_HEADERS, "ETag": file.etag, "Cache-Control": "no-cache"}
    if request.headers.get("If-None-Match") == file.etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=file.body, headers={**headers, "Content-Type": file.content_type})


__all__ = ["PATHS", "STATIC", "StaticFile", "load_static", "ui_routes"]
