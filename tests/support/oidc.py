"""A stand-in OIDC provider: a real local HTTP server publishing a JWKS, and a key to sign with.

The identity provider lies outside the machine in production, so tests fake it, with a real
server (the gateway fetches the keys over HTTP exactly as it would from the provider).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://login.teke.local"
AUDIENCE = "teke-api"


class FakeOIDC:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-key-1"
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        body = json.dumps({"keys": [jwk]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def jwks_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"

    def token(self, *, sub: str = "user-1", roles: list[str] | None = None, org: str | None = None,
              aud: str = AUDIENCE, iss: str = ISSUER, exp_in: int = 600, key=None,
              kid: str | None = None) -> str:
        now = int(time.time())
        claims = {"sub": sub, "roles": roles or [], "iss": iss, "aud": aud, "iat": now,
                  "exp": now + exp_in}
        if org:
            claims["org"] = org
        return jwt.encode(claims, key or self.key, algorithm="RS256",
                          headers={"kid": kid or self.kid})

    def close(self) -> None:
        self.server.shutdown()
