"""`python -m gateway.cli migrate | check | dev-token --role R [--org O] | create-api-key ...`."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import jwt

from gateway.config import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def dev_token(settings: Settings, role: str, org: str | None = None, sub: str | None = None,
              lifetime: int = 12 * 3600) -> str:
    """A development bearer token (HS256 with the dev secret; refused outside development)."""
    if not settings.dev_tokens_allowed:
        raise SystemExit("dev tokens need GATEWAY_ENVIRONMENT=development and GATEWAY_DEV_JWT_SECRET")
    now = int(time.time())
    claims = {"sub": sub or f"dev-{role}", "roles": [role], "iss": settings.oidc_issuer,
              "aud": settings.oidc_audience, "iat": now, "exp": now + lifetime,
              "name": f"Development {role}"}
    if org:
        claims["org"] = org
    return jwt.encode(claims, settings.dev_jwt_secret, algorithm="HS256")


async def _create_key(settings: Settings, name: str, scopes: list[str], roles: list[str],
                      org: str | None) -> str:
    from gateway.auth import hash_key, new_api_key
    from gateway.models import ApiKey
    from shared.db import create_engine, make_sessionmaker

    engine = create_engine(settings.database_url)
    key, prefix = new_api_key()
    async with make_sessionmaker(engine)() as session:
        session.add(ApiKey(prefix=prefix, key_hash=hash_key(settings.api_key_pepper, key),
                           name=name, scopes=scopes, roles=roles, organisation_id=org,
                           created_by="cli"))
        await session.commit()
    await engine.dispose()
    return key


def main(argv: list[str] | None = None) -> None:
    from shared.identity import ROLES

    parser = argparse.ArgumentParser(prog="python -m gateway.cli")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("migrate")
    sub.add_parser("check")
    tok = sub.add_parser("dev-token", help="mint a development token for a role")
    tok.add_argument("--role", required=True, choices=ROLES)
    tok.add_argument("--org")
    tok.add_argument("--sub")
    key = sub.add_parser("create-api-key")
    key.add_argument("--name", required=True)
    key.add_argument("--scope", action="append", required=True)
    key.add_argument("--role", action="append", default=[])
    key.add_argument("--org")
    args = parser.parse_args(argv)
    settings = Settings()
    if args.cmd in ("migrate", "check"):
        # Alembic and the models only where needed: `make run` mints its token in-process
        # through dev_token, and `make token` should not pay for them either.
        from alembic import command

        from shared.migrate import alembic_config, upgrade

        if args.cmd == "migrate":
            upgrade(MIGRATIONS, settings.database_url)
        else:
            command.check(alembic_config(MIGRATIONS, settings.database_url))
    elif args.cmd == "dev-token":
        print(dev_token(settings, args.role, args.org, args.sub))
    elif args.cmd == "create-api-key":
        print(asyncio.run(_create_key(settings, args.name, args.scope, args.role, args.org)))


if __name__ == "__main__":
    main()
