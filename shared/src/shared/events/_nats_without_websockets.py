"""Imports nats-py's transport module without aiohttp (before anything else imports nats).

nats-py imports aiohttp (7.6 MB resident with yarl and multidict, bench/RESULTS-idle-rss.md) at
import only to offer ws:// server URLs, which TEKE never uses (nats:// and tls://). It is hidden
from that one import: nats' WebSocket transport is then off, and aiohttp itself stays importable
(the gateway uses it). tests/test_idle_imports.py checks that no service imports it.
"""

import sys

_aiohttp = sys.modules.get("aiohttp")
sys.modules["aiohttp"] = None  # type: ignore[assignment]
try:
    import nats.aio.transport  # noqa: F401
finally:
    if _aiohttp is None:
        del sys.modules["aiohttp"]
    else:
        sys.modules["aiohttp"] = _aiohttp
