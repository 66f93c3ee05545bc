"""The internal identity token: the gateway signs it (Ed25519), services accept nothing else.

Signing and verifying are cached per identity/token for part of the token's life, so the
cost of public-key crypto is paid once per identity per interval, not once per request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, Request

from shared.errors import Forbidden, Unauthorized

HEADER = "x-teke-identity"
ALGORITHM = "EdDSA"
# ministry: the ministries that own a national theme (TEM, STM): read national, non-personal data.
ROLES = ("admin", "coordinator", "ministry", "funder", "implementer", "viewer")


@dataclass(frozen=True)
class Identity:
    """Who is calling, as the gateway established it."""

    sub: str
    kind: str = "anonymous"  # user | apikey | anonymous
    roles: tuple[str, ...] = ()
    org: str | None = None
    scopes: tuple[str, ...] = ()
    name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_anonymous(self) -> bool:
        return self.kind == "anonymous"

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)

    @property
    def is_national(self) -> bool:
        """Admins and the coordination project see and change everything."""
        return self.has_role("admin", "coordinator")

    @property
    def reads_national(self) -> bool:
        """Admins, the coordination project and the ministries read national data; a ministry
        user sees no personal data and writes only what a rule names for it."""
        return self.has_role("admin", "coordinator", "ministry")

    def key(self) -> tuple:
        return (self.sub, self.kind, self.roles, self.org, self.scopes, self.name)


ANONYMOUS = Identity(sub="anonymous")


def generate_keypair() -> tuple[str, str]:
    """A new Ed25519 key pair as (private PEM, public PEM)."""
    private = Ed25519PrivateKey.generate()
    priv_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    pub_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return priv_pem, pub_pem


class InternalTokenSigner:
    """Mints short-lived internal tokens; reuses one per identity for half its life."""

    def __init__(self, private_key_pem: str, *, lifetime: int = 120,
                 audience: str = "teke-internal", issuer: str = "teke-gateway") -> None:
        self._key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
        self.lifetime = lifetime
        self.audience = audience
        self.issuer = issuer
        self._cache: dict[tuple, tuple[float, str]] = {}

    def sign(self, identity: Identity) -> str:
        now = time.time()
        k = identity.key()
        hit = self._cache.get(k)
        if hit is not None and hit[0] > now:
            return hit[1]
        claims = {
            "sub": identity.sub, "kind": identity.kind, "roles": list(identity.roles),
            "org": identity.org, "scopes": list(identity.scopes), "name": identity.name,
            "iat": int(now), "exp": int(now) + self.lifetime,
            "aud": self.audience, "iss": self.issuer,
        }
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[k] = (now + self.lifetime / 2, token)
        return token


class InternalTokenVerifier:
    """Checks internal tokens (signature, exp, aud, iss; algorithm pinned); caches good ones."""

    def __init__(self, public_key_pem: str, *, audience: str = "teke-internal",
                 issuer: str = "teke-gateway") -> None:
        self._key = serialization.load_pem_public_key(public_key_pem.encode()) if public_key_pem else None
        self.audience = audience
        self.issuer = issuer
        self._cache: dict[str, tuple[float, Identity]] = {}

    def verify(self, token: str) -> Identity:
        now = time.time()
        hit = self._cache.get(token)
        if hit is not None:
            if hit[0] > now:
                return hit[1]
            del self._cache[token]
        if self._key is None:
            raise Unauthorized("this service has no key to check identities")
        try:
            claims = jwt.decode(
                token, self._key, algorithms=[ALGORITHM], audience=self.audience,
                issuer=self.issuer, options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid internal identity token: {exc}") from exc
        identity = Identity(
            sub=claims["sub"], kind=claims.get("kind", "user"),
            roles=tuple(r for r in claims.get("roles", []) if r in ROLES),
            org=claims.get("org"), scopes=tuple(claims.get("scopes") or ()), name=claims.get("name"),
        )
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = (float(claims["exp"]), identity)
        return identity


# Paths ops probe without identity (they reveal nothing about data).
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class IdentityMiddleware:
    """Pure ASGI: every request but the ops probes must carry a valid internal token."""

    def __init__(self, app, verifier: InternalTokenVerifier) -> None:
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        token = None
        for name, value in scope["headers"]:
            if name == b"x-teke-identity":
                token = value.decode("latin-1")
                break
        try:
            if not token:
                raise Unauthorized("requests reach services only through the gateway")
            identity = self.verifier.verify(token)
        except Unauthorized as exc:
            from shared.errors import problem_response

            response = problem_response(401, detail=exc.detail, instance=scope["path"],
                                        headers=exc.headers)
            return await response(scope, receive, send)
        scope.setdefault("state", {})["identity"] = identity
        return await self.app(scope, receive, send)


async def current_identity(request: Request) -> Identity:
    return getattr(request.state, "identity", ANONYMOUS)


CurrentIdentity = Annotated[Identity, Depends(current_identity)]


async def require_authenticated(identity: CurrentIdentity) -> Identity:
    if identity.is_anonymous:
        raise Unauthorized("this operation needs a signed-in user or an API key")
    return identity


Authenticated = Annotated[Identity, Depends(require_authenticated)]


def require_roles(*roles: str):
    """Dependency: the caller must hold one of `roles`."""

    async def _check(identity: Authenticated) -> Identity:
        if not identity.has_role(*roles):
            raise Forbidden(f"needs one of the roles: {', '.join(roles)}")
        return identity

    return Depends(_check)
