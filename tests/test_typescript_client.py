"""A TypeScript client generated from the merged OpenAPI document (openapi-typescript, pinned in
clients/typescript/package-lock.json and installed by `make install`) type-checks a small
program that lists projects, reads one and creates an organisation, under `tsc --strict`.

Never skipped: without node and npm (or without `make install`'s node_modules) it fails."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx

from deploy.embedded import ROOT

CLIENT = ROOT / "clients" / "typescript"
BIN = CLIENT / "node_modules" / ".bin"


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600)


def _workspace(tmp_path: Path) -> Path:
    """The example, its tsconfig and the installed packages in a folder of the test's own, so
    the generated file never lands in the source tree."""
    work = tmp_path / "ts"
    (work / "src").mkdir(parents=True)
    shutil.copy(CLIENT / "tsconfig.json", work / "tsconfig.json")
    shutil.copy(CLIENT / "src" / "example.ts", work / "src" / "example.ts")
    (work / "node_modules").symlink_to(CLIENT / "node_modules", target_is_directory=True)
    return work


def test_generated_typescript_client_type_checks_under_strict(stack, tmp_path):
    assert shutil.which("node"), "node is not installed: the TypeScript client check needs it"
    assert shutil.which("npm"), "npm is not installed: `make install` runs npm ci"
    for tool in ("openapi-typescript", "tsc"):
        assert (BIN / tool).exists(), f"{BIN / tool} is missing: run `make install` (npm ci)"
    doc = httpx.get(stack.gateway_url + "/api/v1/openapi.json", timeout=60).json()
    work = _workspace(tmp_path)
    spec = work / "openapi.json"
    spec.write_text(json.dumps(doc))

    generated = _run([str(BIN / "openapi-typescript"), str(spec), "-o",
                      str(work / "src" / "teke-api.d.ts")], work)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    types = (work / "src" / "teke-api.d.ts").read_text()
    for name in ('"/api/v1/projects"', '"/api/v1/projects/{project_id}"',
                 '"/api/v1/organisations"', "ProjectSummary", "OrganisationIn"):
        assert name in types, name

    checked = _run([str(BIN / "tsc"), "--strict", "--noEmit", "-p", "."], work)
    assert checked.returncode == 0, (checked.stdout + checked.stderr)[-6000:]

    # The check has teeth: a program that reads a field the contract lacks does not compile.
    (work / "src" / "wrong.ts").write_text(
        'import type { components } from "./teke-api";\n'
        'export const code = (p: components["schemas"]["ProjectSummary"]): string => p.no_such_field;\n')
    wrong = _run([str(BIN / "tsc"), "--strict", "--noEmit", "-p", "."], work)
    assert wrong.returncode != 0 and "no_such_field" in wrong.stdout, wrong.stdout[-2000:]
