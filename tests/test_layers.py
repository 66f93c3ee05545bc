"""Layering: a router parses the request, calls the service and shapes the response; it never
runs a query itself. Queries live in a domain's service.py or queries.py.

Checked by parsing every `router.py` with `ast`: a call of `.execute(`, `.scalar(`,
`.scalars(`, `.get(`, `.add(`, `.flush(` on a session (a name such as `session` or `s`, or an
attribute `….session`, e.g. `uow.session`) fails the test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("registry", "indicators", "comms")
ROUTERS = sorted(p for name in SERVICES
                 for p in (ROOT / "services" / name / "src" / name).rglob("router.py"))
QUERY_CALLS = {"execute", "scalar", "scalars", "get", "add", "add_all", "flush", "delete"}
SESSION_NAMES = {"session", "s", "db", "sess"}


def _is_session(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id in SESSION_NAMES
    return isinstance(node, ast.Attribute) and node.attr == "session"


def direct_queries(source: str) -> list[str]:
    """`line: session.method(` for each query call on a session in the source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in QUERY_CALLS and _is_session(node.func.value)):
            found.append(f"{node.lineno}: {ast.unparse(node.func)}(")
    return found


def test_there_are_routers_to_check():
    assert len(ROUTERS) >= 10


@pytest.mark.parametrize("path", ROUTERS, ids=lambda p: str(p.relative_to(ROOT / "services")))
def test_router_runs_no_query(path: Path):
    found = direct_queries(path.read_text())
    assert not found, f"{path.relative_to(ROOT)} queries directly (move it to service.py/queries.py): {found}"


def test_the_check_sees_a_query():
    src = "async def f(session, uow):\n    await session.execute(q)\n    await uow.session.get(X, 1)\n"
    assert direct_queries(src) == ["2: session.execute(", "3: uow.session.get("]
    assert direct_queries("async def f(d):\n    d.get('k')\n") == []
