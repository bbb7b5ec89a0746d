"""Where requests go: the control API's prefix, and the answer for a path no route takes
(aiohttp's own 404, or its 405 naming the methods the path does take), shared by the vendor
routes' catch-all and the control API's."""

from __future__ import annotations

from aiohttp import web

CONTROL_PREFIX = "/_emulator"


async def no_route(request: web.Request) -> web.StreamResponse:
    """aiohttp's own 404, or its 405 when the path is a route's with other methods."""
    allowed = await methods_elsewhere(request)
    # Returned, not raised: a raised HTTPException keeps the request (and a body of up to
    # 1 MB) alive in a reference cycle until the garbage collector runs.
    if allowed:
        methods = ",".join(sorted(allowed))
        return web.Response(status=405, text="405: Method Not Allowed", headers={"Allow": methods})
    return web.Response(status=404, text="404: Not Found")


async def methods_elsewhere(request: web.Request) -> set[str]:
    """The methods the other routes of the request's router allow on its path (the router
    passes over a route whose path fits but whose method does not, to reach a fallback)."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource is not request.match_info.route.resource and not isinstance(resource, web.PrefixedSubAppResource):
            allowed |= (await resource.resolve(request))[1]
    return allowed
