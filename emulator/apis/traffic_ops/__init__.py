"""Apache Traffic Control, Traffic Ops: `GET /api/{4.0,4.1,5.0}/async_status/{id}`.

Modelled on the Go server (apache/trafficcontrol, traffic_ops_golang 8.0): `api/async_status.go`,
`api/api.go` (response framing, GetUserFromReq), `routing/` (routes, versions, middleware
headers and gzip), `login/login.go` and `tocookie/` (sessions). Notes with sources:
API-NOTES.md sections 4 to 6.

- `api`: the routes and handlers;
- `auth`: roles and the privilege or permission checks;
- `routing`: what the router knows of paths and versions, and the status body;
- `sessions`: session cookies and access tokens, judged on the wall clock;
- `wire`: Go's JSON, the middleware's headers and gzip, cookies as net/http writes them;
- `godecode`: request bodies as Go's JSON decoder reads them.

Auth follows the server's two modes. With `role_based_permissions` off (the server's default
when its config does not set it) a route needs a privilege level: async_status needs
`operations`, so `read-only` users get 403 "Forbidden.". With it on, a route needs
permissions (`ASYNC-STATUS:READ`), and the `admin` role has them all.
"""

from __future__ import annotations

from .api import TrafficOps
from .wire import ROUTE_HEADERS, _sha512, encode_go_json

__all__ = ["ROUTE_HEADERS", "TrafficOps", "_sha512", "encode_go_json"]
