"""The public route table: which /api/v1 prefix goes to which service, and the scope it needs.

Services serve their public paths without the /api/v1 prefix, so forwarding only strips it.
One API, not three: prefixes name resources, not services.
"""

from __future__ import annotations

from dataclasses import dataclass

API_PREFIX = "/api/v1"

PREFIXES: dict[str, tuple[str, ...]] = {
    "registry": (
        "/programmes", "/themes", "/organisations", "/projects", "/calls", "/practices",
        "/adoptions", "/reference", "/changes", "/funding", "/admin/registry",
        "/steering-meetings", "/service-needs",
        "/theme-evaluations", "/recommendations", "/continuation",
        "/outputs", "/lessons",
        "/overlaps", "/operations", "/jobs",
    ),
    "indicators": (
        "/indicators", "/targets", "/reports", "/surveys", "/analyses", "/goals", "/admin/indicators",
    ),
    "comms": (
        "/plans", "/content", "/events", "/subscriptions", "/feeds", "/webhooks",
        "/deliveries", "/social", "/comms", "/admin/comms",
    ),
}


@dataclass(frozen=True)
class Route:
    prefix: str  # after /api/v1
    upstream: str

    def scope_for(self, method: str) -> str:
        if self.prefix.startswith("/admin/"):
            return "admin"
        return f"{self.upstream}:{'read' if method in ('GET', 'HEAD') else 'write'}"


ROUTES: tuple[Route, ...] = tuple(
    Route(prefix, upstream) for upstream, prefixes in PREFIXES.items() for prefix in prefixes
)


def match(path: str) -> Route | None:
    """The route whose prefix owns `path` (a path under /api/v1), or None."""
    for route in ROUTES:
        p = route.prefix
        if path == p or (path.startswith(p) and path[len(p)] == "/"):
            return route
    return None
