// A small program on the generated types: list projects, read one, create an organisation.
// CI (tests/test_typescript_client.py) generates ./teke-api.d.ts from the running stack's
// merged OpenAPI document and type-checks this file with `tsc --strict --noEmit`; a contract
// change that breaks a TypeScript client breaks that test.
import createClient from "openapi-fetch";
import type { components, paths } from "./teke-api";

type ProjectSummary = components["schemas"]["ProjectSummary"];
type ProjectRead = components["schemas"]["ProjectRead"];
type OrganisationIn = components["schemas"]["OrganisationIn"];
type Problem = components["schemas"]["Problem"];

export function teke(baseUrl: string, token: string) {
  return createClient<paths>({
    baseUrl,
    headers: { Authorization: `Bearer ${token}`, "Accept-Language": "fi" },
  });
}

function explain(problem: Problem | undefined, status: number): Error {
  return new Error(`${status}: ${problem?.detail ?? problem?.title ?? "failed"}`);
}

export async function listProjects(api: ReturnType<typeof teke>): Promise<ProjectSummary[]> {
  const { data, error, response } = await api.GET("/api/v1/projects", {
    params: { query: { limit: 5, lang: "sv", status: ["active"] } },
  });
  if (data === undefined) throw explain(error, response.status);
  console.log(`${data.total} projects; first page has ${data.items.length}`);
  return data.items;
}

export async function readProject(api: ReturnType<typeof teke>, id: string): Promise<ProjectRead> {
  const { data, error, response } = await api.GET("/api/v1/projects/{project_id}", {
    params: { path: { project_id: id } },
  });
  if (data === undefined) throw explain(error, response.status);
  const etag: string | null = response.headers.get("ETag");  // for If-Match on a later PATCH
  console.log(`${data.code}: ${data.name.fi} (ETag ${etag ?? "none"})`);
  return data;
}

export async function createOrganisation(api: ReturnType<typeof teke>): Promise<string> {
  const body: OrganisationIn = {
    name: { fi: "Esimerkki Oy", sv: "Exempel Ab" },
    business_id: "0245437-2",
    kind: "company",
    sector: "private",
    size_class: "small",
    region_code: "06",
  };
  const { data, error, response } = await api.POST("/api/v1/organisations", { body });
  if (data === undefined) throw explain(error, response.status);
  // Narrowed by hand so this compiles whether the 201 body is typed or not (yet).
  const created: unknown = data;
  if (typeof created === "object" && created !== null && "id" in created
      && typeof created.id === "string") {
    return created.id;
  }
  throw new Error("the new organisation has no id");
}

export async function main(baseUrl: string, token: string): Promise<void> {
  const api = teke(baseUrl, token);
  const projects = await listProjects(api);
  const first = projects[0];
  if (first !== undefined) await readProject(api, first.id);
  console.log(`organisation ${await createOrganisation(api)} created`);
}
