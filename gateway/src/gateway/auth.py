"""Who is calling: OIDC bearer JWTs for people, API keys for systems, else anonymous."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from typing import Any

import httpx
import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.config import Settings
from gateway.models import ApiKey
from shared.db import utcnow
from shared.errors import Unauthorized
from shared.identity import ANONYMOUS, ROLES, Identity

KEY_PREFIX = "teke_"


def hash_key(pepper: str, key: str) -> str:
    return hmac.new(pepper.encode(), key.encode(), hashlib.sha256).hexdigest()


def new_api_key() -> tuple[str, str]:
    """(full key shown once, lookup prefix)."""
    prefix = secrets.token_hex(6)
    return f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}", prefix


class _Lru:
    """Verified credentials -> (good until, identity); least recently used dropped past `size`
    so a flood of distinct tokens cannot grow memory or evict the busy ones wholesale."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[float, Identity]] = OrderedDict()

    def get(self, key: str, now: float) -> Identity | None:
        hit = self._items.get(key)
        if hit is None:
            return None
        if hit[0] <= now:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return hit[1]

    def put(self, key: str, until: float, identity: Identity) -> None:
        self._items[key] = (until, identity)
        self._items.move_to_end(key)
        if len(self._items) > self.size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()


class Authenticator:
    def __init__(self, settings: Settings, maker: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.maker = maker
        # A token is good until its exp; a key for api_key_cache_seconds (revocations made on
        # another replica are seen within that) or until it expires.
        self._jwt_cache = _Lru(50_000)
        self._key_cache = _Lru(10_000)
        self._jwks: dict[str, Any] = {}
        self._jwks_fetched = 0.0
        # A PEM public key configured directly (no JWKS): PyJWT takes the PEM as it is.
        self._static_key = settings.oidc_public_key or None

    async def identify(self, authorization: str | None, api_key: str | None) -> Identity:
        if api_key:
            return await self._api_key(api_key)
        if not authorization:
            return ANONYMOUS
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("use 'Authorization: Bearer <token>'")
        token = token.strip()
        if token.startswith(KEY_PREFIX):
            return await self._api_key(token)
        return await self._jwt(token)

    # --- people -------------------------------------------------------------------------

    async def _jwt(self, token: str) -> Identity:
        hit = self._jwt_cache.get(token, time.time())
        if hit is not None:
            return hit
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"malformed token: {exc}") from exc
        alg = header.get("alg")
        s = self.settings
        if alg == "HS256":
            if not s.dev_tokens_allowed:
                raise Unauthorized("HS256 tokens are accepted only in development")
            key: Any = s.dev_jwt_secret
        elif alg in s.oidc_algorithms:
            key = await self._public_key(header.get("kid"))
        else:
            raise Unauthorized(f"token algorithm {alg!r} is not accepted")
        try:
            claims = jwt.decode(
                token, key, algorithms=[alg], audience=s.oidc_audience, issuer=s.oidc_issuer,
                options={"require": ["exp", "iss", "aud", "sub"]}, leeway=10,
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"token rejected: {exc}") from exc
        roles = claims.get(s.oidc_roles_claim) or []
        if isinstance(roles, str):
            roles = roles.split()
        identity = Identity(
            sub=str(claims["sub"]), kind="user", roles=tuple(r for r in roles if r in ROLES),
            org=claims.get(s.oidc_org_claim), name=claims.get("name"),
        )
        self._jwt_cache.put(token, float(claims["exp"]), identity)
        return identity

    async def _public_key(self, kid: str | None) -> Any:
        if self._static_key is not None:
            return self._static_key
        if not self.settings.oidc_jwks_url:
            raise Unauthorized("no OIDC key is configured")
        if kid not in self._jwks and time.time() - self._jwks_fetched > 30:
            await self._fetch_jwks()
        if kid is None and len(self._jwks) == 1:
            return next(iter(self._jwks.values()))
        if kid not in self._jwks:
            raise Unauthorized("token signed with an unknown key")
        return self._jwks[kid]

    async def _fetch_jwks(self) -> None:
        self._jwks_fetched = time.time()
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                resp = await client.get(self.settings.oidc_jwks_url)
                resp.raise_for_status()
                keyset = jwt.PyJWKSet.from_dict(resp.json())
        except Exception as exc:
            raise Unauthorized(f"could not load the identity provider's keys: {exc}") from exc
        self._jwks = {k.key_id: k.key for k in keyset.keys}

    # --- systems ------------------------------------------------------------------------

    async def _api_key(self, key: str) -> Identity:
        now = time.time()
        hit = self._key_cache.get(key, now)
        if hit is not None:
            return hit
        # teke_<12 hex prefix>_<secret>; the secret may itself contain "_".
        prefix, sep, secret = key[len(KEY_PREFIX):].partition("_")
        if not key.startswith(KEY_PREFIX) or not sep or not secret or len(prefix) != 12:
            raise Unauthorized("malformed API key")
        async with self.maker() as session:
            row = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        if row is None or not hmac.compare_digest(row.key_hash, hash_key(self.settings.api_key_pepper, key)):
            raise Unauthorized("unknown API key")
        if row.revoked_at is not None:
            raise Unauthorized("this API key has been revoked")
        if row.expires_at is not None and row.expires_at <= utcnow():
            raise Unauthorized("this API key has expired")
        identity = Identity(sub=f"apikey:{row.id}", kind="apikey", roles=tuple(row.roles),
                            org=row.organisation_id, scopes=tuple(row.scopes), name=row.name)
        expires = now + self.settings.api_key_cache_seconds
        if row.expires_at is not None:
            expires = min(expires, row.expires_at.timestamp())
        self._key_cache.put(key, expires, identity)
        return identity

    def forget_api_keys(self) -> None:
        """Drop cached keys (after a revoke) so the change is seen at once here."""
        self._key_cache.clear()
