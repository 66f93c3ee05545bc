"""The public route table: which /api/v1 prefix goes to which service, and the scope it needs.

Services serve their public paths without the /api/v1 prefix, so forwarding only strips it.
"""

from __future__ import annotations

from dataclasses import dataclass

API_PREFIX = "/api/v1"


@dataclass(frozen=True)
class Route:
    prefix: str  # after /api/v1
    upstream: str
    bulk: bool = False  # takes large bodies

    def scope_for(self, method: str) -> str:
        if self.prefix.startswith("/admin/"):
            return "admin"
        return f"{self.upstream}:{'read' if method in ('GET', 'HEAD') else 'write'}"


ROUTES: tuple[Route, ...] = (
    Route("/projects", "registry"),
    Route("/indicators", "indicators"),
    Route("/comms", "comms"),
    Route("/admin/registry", "registry"),
    Route("/admin/indicators", "indicators"),
    Route("/admin/comms", "comms"),
)


def match(path: str) -> Route | None:
    """The route whose prefix owns `path` (a path under /api/v1), or None."""
    for route in ROUTES:
        p = route.prefix
        if path == p or (path.startswith(p) and path[len(p)] in "/?"):
            return route
    return None
