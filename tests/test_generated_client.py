"""A client generated from the OpenAPI document by an independent generator
(openapi-python-client) builds, imports, lists projects and reads one."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import httpx


def test_generated_client_lists_and_reads_projects(stack, admin_token, tmp_path):
    made = httpx.post(stack.gateway_url + "/api/v1/projects",
                      json={"code": "GEN-CLIENT-1", "name": {"fi": "Generoitu asiakas"}},
                      headers={"Authorization": f"Bearer {admin_token}"})
    assert made.status_code in (201, 409)
    doc = httpx.get(stack.gateway_url + "/api/v1/openapi.json").json()
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(doc))
    config = tmp_path / "config.yml"
    config.write_text("project_name_override: teke-client\npackage_name_override: teke_client\n"
                      "post_hooks: []\n")
    generator = Path(sys.executable).parent / "openapi-python-client"
    out = subprocess.run([str(generator), "generate", "--path", str(spec), "--config", str(config),
                          "--output-path", str(tmp_path / "teke_client"), "--meta", "none"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Error" not in out.stdout, out.stdout
    # --meta none writes the package itself: import it from its parent folder.
    sys.path.insert(0, str(tmp_path))
    try:
        importlib.invalidate_caches()
        from teke_client import AuthenticatedClient
        from teke_client.api.projects import list_projects, read_project

        client = AuthenticatedClient(base_url=stack.gateway_url, token=admin_token)
        page = list_projects.sync(client=client, limit=5)
        assert page is not None and page.total >= 1 and len(page.items) >= 1
        first = page.items[0]
        detailed = read_project.sync_detailed(client=client, project_id=first.id)
        assert detailed.status_code == 200, (detailed.status_code, detailed.content[:500])
        one = detailed.parsed
        assert one is not None, detailed.content[:500]
        assert one.id == first.id and one.code == first.code
        assert one.name.fi == first.name.fi
        missing = read_project.sync_detailed(client=client, project_id="no-such-project")
        assert missing.status_code == 404
    finally:
        sys.path.remove(str(tmp_path))
        for name in list(sys.modules):
            if name.startswith("teke_client"):
                del sys.modules[name]
