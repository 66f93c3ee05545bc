"""A client generated from the OpenAPI document by an independent generator
(openapi-python-client) builds without warnings for the registry, imports, lists projects and
reads one, and creates organisations, pages through them by `next_cursor` and reads one."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import uuid
from io import BytesIO
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
    # CSV bodies go as bytes: the generator knows no text/csv, and this setting of its own
    # (README, "For client developers") makes it send CSV as a file.
    config.write_text("project_name_override: teke-client\npackage_name_override: teke_client\n"
                      "post_hooks: []\ncontent_type_overrides:\n"
                      "  text/csv: application/octet-stream\n"
                      "  application/csv: application/octet-stream\n")
    generator = Path(sys.executable).parent / "openapi-python-client"
    out = subprocess.run([str(generator), "generate", "--path", str(spec), "--config", str(config),
                          "--output-path", str(tmp_path / "teke_client"), "--meta", "none"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Error" not in out.stdout, out.stdout
    # A warning means a response or body the client silently drops: there must be none.
    said = out.stdout + "\n" + out.stderr
    assert not re.search(r"warning", said, re.I), said
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

        # Create, page by next_cursor and read, all through the generated client.
        from teke_client.api.organisations import (
            create_organisation,
            list_organisations,
            read_organisation,
        )
        from teke_client.models import LocalizedName, OrganisationIn, OrganisationInKindType0

        tag = uuid.uuid4().hex[:10]
        made = []
        for i in range(3):
            r = create_organisation.sync_detailed(client=client, body=OrganisationIn(
                name=LocalizedName(fi=f"Generoitu {tag} {i}"), kind=OrganisationInKindType0.ASSOCIATION,
                region_code="01"))
            assert r.status_code == 201, r.content[:500]
            assert r.parsed.name.fi == f"Generoitu {tag} {i}" and r.parsed.version == 1
            made.append(r.parsed.id)
        first = list_organisations.sync(client=client, q=tag, limit=2)
        assert first.total == 3 and len(first.items) == 2 and first.next_cursor
        second = list_organisations.sync(client=client, q=tag, limit=2, cursor=first.next_cursor)
        assert second.total == 3 and len(second.items) == 1 and second.next_cursor is None
        assert sorted(o.id for o in first.items + second.items) == sorted(made)
        one = read_organisation.sync(client=client, org_id=made[1])
        assert one.id == made[1] and one.name.fi == f"Generoitu {tag} 1"
        assert one.kind == "association" and one.region_code == "01" and one.archived is False

        # Import (JSON rows, then a CSV file) and export, through the generated client.
        from teke_client.api.import_ import import_projects
        from teke_client.api.projects import export_projects
        from teke_client.models import ExportProjectsFormat, ImportProjectsJsonBody, ProjectCreate
        from teke_client.types import File

        code = f"GEN-{tag.upper()}"
        rows = [ProjectCreate(code=f"{code}-{i}", name=LocalizedName(fi=f"Tuotu {tag} {i}"))
                for i in range(2)]
        report = import_projects.sync(client=client, body=ImportProjectsJsonBody(projects=rows))
        assert report.summary.created == 2 and report.written is True, report
        csv = f"code,name_fi\n{code}-2,Tuotu CSV {tag}\n{code}-0,Tuotu {tag} 0\n".encode()
        report = import_projects.sync(client=client, body=File(payload=BytesIO(csv)))
        assert (report.summary.created, report.summary.unchanged) == (1, 1), report
        exported = export_projects.sync(client=client, format_=ExportProjectsFormat.JSON, q=tag)
        got = {row.code: row.name for row in exported.items}
        assert got == {f"{code}-0": f"Tuotu {tag} 0", f"{code}-1": f"Tuotu {tag} 1",
                       f"{code}-2": f"Tuotu CSV {tag}"}, got
    finally:
        sys.path.remove(str(tmp_path))
        for name in list(sys.modules):
            if name.startswith("teke_client"):
                del sys.modules[name]
