"""The cluster side in argocd/: valid against Argo CD's own CRDs, and a policy that really holds.

Argo CD objects are validated with jsonschema against `openAPIV3Schema` of the served CRD version
(../shared/schemas/argocd, or the folder ARGOCD_CRDS names; Argo CD 3.6), made strict: an unknown
field fails, as it does for `kubectl apply` (field validation Strict) instead of being pruned away
silently. The project's
limits are checked against what the overlays really render, and the promoter's identity against
every RBAC object here: it may read Applications and nothing more.
"""

from __future__ import annotations

import copy
import functools
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
import yaml
from jsonschema import Draft202012Validator

from promoter.policy import Policy

from .conftest import WEB
from .test_kustomize import kustomize, load_docs, needs_kubectl, render, schema_problems

ROOT = Path(__file__).resolve().parents[1]
ARGOCD = ROOT / "argocd"
CRD_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "schemas" / "argocd"
PROMOTER = "promoter@demo-shop.iam.gserviceaccount.com"
REPO_URL = "https://github.com/demo-shop/shop.git"
IN_CLUSTER = "https://kubernetes.default.svc"
BUILDS = "https://console.cloud.google.com/cloud-build/builds?project=demo-shop"
READ_VERBS = {"get", "list", "watch"}
LINK_PREFIX = "link.argocd.argoproj.io/"
LINK_KEYS = {"title", "url", "description", "icon.class", "if"}
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Obj = dict[str, Any]


def argocd_objects() -> list[Obj]:
    """Every Kubernetes object in argocd/ (its kustomization.yaml is not one)."""
    files = sorted(p for p in ARGOCD.rglob("*.yaml") if p.name != "kustomization.yaml")
    return [d for p in files for d in load_docs(p.read_text())]


def of_kind(kind: str) -> list[Obj]:
    return [o for o in argocd_objects() if o.get("kind") == kind]


def applications() -> dict[str, Obj]:
    return {a["metadata"]["name"]: a for a in of_kind("Application")}


def project() -> Obj:
    (found,) = of_kind("AppProject")
    return found


def sync_policy(app: Obj) -> Obj:
    return app["spec"].get("syncPolicy") or {}


# --- Argo CD's CRDs --------------------------------------------------------------------------


def crd_dir() -> Path:
    """Where Argo CD's CRDs are: the folder ARGOCD_CRDS names, else ../shared/schemas/argocd."""
    return Path(os.environ.get("ARGOCD_CRDS") or CRD_DIR)


def crds_or_skip() -> dict[tuple[str, str], Obj]:
    """Argo CD's CRDs by (group, kind); skips the test, saying why, where they are absent."""
    folder = crd_dir()
    if not folder.is_dir():
        pytest.skip(
            f"Argo CD CRDs not found at {folder} (set ARGOCD_CRDS to their folder): cannot"
            " validate against the real schema"
        )
    return load_crds(folder)


@pytest.fixture(scope="module")
def crds() -> dict[tuple[str, str], Obj]:
    return crds_or_skip()


@functools.cache
def load_crds(folder: Path) -> dict[tuple[str, str], Obj]:
    found = {}
    for path in sorted(folder.glob("*.yaml")):
        # PyYAML's C loader (kubernetes-validate's dependency): 2 MB of CRDs in 0.1 s, not 7 s.
        for doc in yaml.load_all(path.read_text(), Loader=SafeLoader):
            if not isinstance(doc, dict):
                continue
            if doc.get("kind") == "CustomResourceDefinition":
                found[(doc["spec"]["group"], doc["spec"]["names"]["kind"])] = doc
    assert ("argoproj.io", "Application") in found, f"no Application CRD in {folder}"
    return found


def strict(schema: Any) -> Any:
    """`schema` with unknown fields rejected wherever the API server would reject them."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def crd_problems(obj: Obj, crds: dict[tuple[str, str], Obj]) -> list[str]:
    """Why the API server would refuse `obj` given Argo CD's CRDs (empty when it would not)."""
    group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
    name = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
    crd = crds.get((group, cast(str, obj.get("kind"))))
    if crd is None:
        return [f"{name}: no Argo CD CRD defines kind {obj.get('kind')} in group {group!r}"]
    served = {v["name"]: v for v in crd["spec"]["versions"] if v.get("served")}
    if version not in served:
        return [f"{name}: version {version!r} is not served (served: {sorted(served)})"]
    problems = []
    if crd["spec"]["scope"] == "Namespaced" and not obj["metadata"].get("namespace"):
        problems.append(f"{name}: metadata.namespace is required for a namespaced kind")
    schema = strict(served[version]["schema"]["openAPIV3Schema"])
    for err in Draft202012Validator(schema).iter_errors(obj):
        problems.append(
            f"{name}: {'.'.join(map(str, err.absolute_path)) or '<root>'}: {err.message}"
        )
    return problems


def test_argocd_folder_holds_the_expected_argo_cd_objects() -> None:
    kinds = sorted(
        o["kind"] for o in argocd_objects() if o["apiVersion"].startswith("argoproj.io/")
    )
    assert kinds == ["AppProject", "Application", "Application"]
    assert sorted(applications()) == ["web-dev", "web-prod"]
    assert project()["metadata"] == {
        "name": "demo-shop",
        "namespace": "argocd",
        "finalizers": ["resources-finalizer.argocd.argoproj.io"],
    }
    assert {a["metadata"]["namespace"] for a in applications().values()} == {"argocd"}


def test_argo_cd_objects_match_the_real_crds(crds: dict[tuple[str, str], Obj]) -> None:
    argo = [o for o in argocd_objects() if o["apiVersion"].startswith("argoproj.io/")]
    assert argo
    assert [p for o in argo for p in crd_problems(o, crds)] == []


def _set(path: str, value: Any) -> Callable[[Obj], None]:
    def mutate(obj: Obj) -> None:
        *parents, last = path.split(".")
        for key in parents:
            obj = obj.setdefault(key, {})
        obj[last] = value

    return mutate


def _drop(path: str) -> Callable[[Obj], None]:
    def mutate(obj: Obj) -> None:
        *parents, last = path.split(".")
        for key in parents:
            obj = obj[key]
        del obj[last]

    return mutate


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_set("spec.source.repoURL", 3), "spec.source.repoURL: 3 is not of type 'string'"),
        (_set("spec.syncPolicy", "automated"), "spec.syncPolicy: 'automated' is not of type"),
        (_set("spec.syncPolicy.automated.selfheal", True), "'selfheal' was unexpected"),
        (_set("spec.revisionHistoryLimit", "10"), "spec.revisionHistoryLimit: '10' is not of"),
        (_drop("spec.destination"), "'destination' is a required property"),
        (_set("apiVersion", "argoproj.io/v1beta1"), "version 'v1beta1' is not served"),
        (_set("kind", "Applicaton"), "no Argo CD CRD defines kind Applicaton"),
    ],
)
def test_the_crd_check_rejects_a_broken_application(
    crds: dict[tuple[str, str], Obj], mutate: Callable[[Obj], None], expected: str
) -> None:
    broken = copy.deepcopy(applications()["web-dev"])
    mutate(broken)
    problems = crd_problems(broken, crds)
    assert any(expected in p for p in problems), problems


def test_the_crd_check_rejects_a_broken_project(crds: dict[tuple[str, str], Obj]) -> None:
    broken = copy.deepcopy(project())
    broken["spec"]["sourceRepos"] = REPO_URL
    broken["spec"]["namespaceResourceWhitelist"].append({"kind": "Secret"})
    problems = " ".join(crd_problems(broken, crds))
    assert "spec.sourceRepos: 'https://github.com/demo-shop/shop.git' is not of type" in problems
    assert "'group' is a required property" in problems


# --- the project's limits, against what the overlays render ----------------------------------


def app_problems(app: Obj, proj: Obj) -> list[str]:
    """Where an Application reaches outside its AppProject."""
    name, spec = app["metadata"]["name"], app["spec"]
    destination = (spec["destination"].get("server"), spec["destination"].get("namespace"))
    allowed = {(d.get("server"), d.get("namespace")) for d in proj["spec"].get("destinations", [])}
    problems = []
    if spec["project"] != proj["metadata"]["name"]:
        problems.append(f"{name}: project {spec['project']!r} is not {proj['metadata']['name']!r}")
    if spec["source"]["repoURL"] not in proj["spec"].get("sourceRepos", []):
        problems.append(f"{name}: source {spec['source']['repoURL']} is not in sourceRepos")
    if destination not in allowed:
        problems.append(f"{name}: destination {destination} is not in the project's destinations")
    return problems


def kind_problems(objects: list[Obj], proj: Obj, namespace: str) -> list[str]:
    """Rendered objects the project would refuse, or that land outside `namespace`."""
    allowed = {(g["group"], g["kind"]) for g in proj["spec"].get("namespaceResourceWhitelist", [])}
    problems = []
    for o in objects:
        group = o["apiVersion"].rpartition("/")[0]
        name = f"{o['kind']}/{o['metadata']['name']}"
        if (group, o["kind"]) not in allowed:
            problems.append(f"{name}: kind {group}/{o['kind']} is not whitelisted")
        if o["metadata"].get("namespace") != namespace:
            problems.append(
                f"{name}: namespace {o['metadata'].get('namespace')} is not {namespace}"
            )
    return problems


def test_project_allows_one_repo_and_two_namespaces_with_no_wildcards() -> None:
    spec = project()["spec"]
    assert spec["sourceRepos"] == [REPO_URL]
    assert sorted((d["server"], d["namespace"]) for d in spec["destinations"]) == [
        (IN_CLUSTER, "demo-shop-dev"),
        (IN_CLUSTER, "demo-shop-prod"),
    ]
    assert spec["clusterResourceWhitelist"] == []
    text = repr(spec)
    assert "*" not in text and "!" not in text


def test_every_application_stays_inside_the_project() -> None:
    assert [p for a in applications().values() for p in app_problems(a, project())] == []


def test_the_project_check_catches_an_application_reaching_out() -> None:
    rogue = copy.deepcopy(applications()["web-dev"])
    rogue["spec"]["source"]["repoURL"] = "https://github.com/demo-shop/other.git"
    rogue["spec"]["destination"]["namespace"] = "kube-system"
    assert app_problems(rogue, project()) == [
        "web-dev: source https://github.com/demo-shop/other.git is not in sourceRepos",
        "web-dev: destination ('https://kubernetes.default.svc', 'kube-system') is not in the "
        "project's destinations",
    ]


@needs_kubectl
def test_the_project_allows_exactly_the_kinds_the_overlays_render() -> None:
    rendered: set[tuple[str, str]] = set()
    for app in applications().values():
        objects = list(render(ROOT / app["spec"]["source"]["path"]))
        namespace = app["spec"]["destination"]["namespace"]
        assert kind_problems(objects, project(), namespace) == []
        rendered |= {(o["apiVersion"].rpartition("/")[0], o["kind"]) for o in objects}
    whitelist = project()["spec"]["namespaceResourceWhitelist"]
    assert {(g["group"], g["kind"]) for g in whitelist} == rendered
    assert {("apps", "Deployment"), ("", "Service")} <= rendered


def test_the_kind_check_catches_what_the_project_would_refuse() -> None:
    objects = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "x"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b", "namespace": "x"}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "c"},
        },
    ]
    assert kind_problems(objects, project(), "x") == [
        "Secret/b: kind /Secret is not whitelisted",
        "ClusterRole/c: kind rbac.authorization.k8s.io/ClusterRole is not whitelisted",
        "ClusterRole/c: namespace None is not x",
    ]


def test_namespaces_come_from_the_admin_not_from_argo_cd() -> None:
    # Decision: no CreateNamespace=true, so the project needs no cluster-scoped kind at all.
    for app in applications().values():
        assert not any(
            o.startswith("CreateNamespace") for o in sync_policy(app).get("syncOptions", [])
        )
    made = {n["metadata"]["name"]: n["metadata"]["labels"] for n in of_kind("Namespace")}
    assert set(made) == {d["namespace"] for d in project()["spec"]["destinations"]}
    for labels in made.values():
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


# --- how each environment syncs ----------------------------------------------------------------


def test_dev_syncs_itself_with_prune_self_heal_and_backoff() -> None:
    policy = sync_policy(applications()["web-dev"])
    automated = policy["automated"]
    assert automated["prune"] is True and automated["selfHeal"] is True
    assert automated.get("enabled", True) is True
    assert policy["retry"]["limit"] > 0
    assert set(policy["retry"]["backoff"]) == {"duration", "factor", "maxDuration"}
    assert applications()["web-dev"]["spec"]["revisionHistoryLimit"] > 0


def test_prod_waits_for_a_person_to_sync() -> None:
    app = applications()["web-prod"]
    assert "automated" not in sync_policy(app)
    assert app["spec"]["revisionHistoryLimit"] > 0
    # Deleting the Application object must not take prod's workloads with it.
    assert "resources-finalizer.argocd.argoproj.io" not in app["metadata"].get("finalizers", [])


def test_only_what_the_promoter_may_write_syncs_by_itself() -> None:
    policy = Policy.from_yaml((ROOT / "promoter.yaml").read_text())
    rules = policy.rules_for(WEB, "main")
    assert rules, "promoter.yaml promotes the web image nowhere"
    for name, app in applications().items():
        kustomization = f"{app['spec']['source']['path']}/kustomization.yaml"
        writable = any(r.allows_path(kustomization) for r in rules)
        assert ("automated" in sync_policy(app)) == writable, name


# --- the promoter's access: read Applications, nothing else ------------------------------------


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def promoter_grants(objects: list[Obj]) -> list[str]:
    """Every way these objects could let the promoter do more than read."""
    roles = {
        (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o
        for o in objects
        if o.get("kind") in {"Role", "ClusterRole"}
    }
    problems = []
    for o in objects:
        if not any(PROMOTER in s for s in strings(o)):
            continue
        where = f"{o.get('kind')}/{(o.get('metadata') or {}).get('name')}"
        if o.get("kind") not in {"RoleBinding", "ClusterRoleBinding"}:
            problems.append(f"{where}: names the promoter outside an RBAC binding")
            continue
        ref = o["roleRef"]
        namespace = o["metadata"].get("namespace") if ref["kind"] == "Role" else None
        role = roles.get((ref["kind"], namespace, ref["name"]))
        if role is None:
            problems.append(f"{where}: binds to {ref['kind']} {ref['name']}, not defined here")
            continue
        if "aggregationRule" in role:
            problems.append(f"{where}: binds to aggregated {ref['kind']} {ref['name']}")
        for rule in role.get("rules", []):
            if extra := set(rule.get("verbs", [])) - READ_VERBS:
                problems.append(f"{where}: {ref['kind']} {ref['name']} grants {sorted(extra)}")
    return problems


def every_object_in_the_repo() -> list[Obj]:
    files = [*ARGOCD.rglob("*.yaml"), *(ROOT / "manifests").rglob("*.yaml")]
    found = [d for p in sorted(files) for d in load_docs(p.read_text()) if "kind" in d]
    for overlay in sorted((ROOT / "manifests/overlays").iterdir()):
        found += render(overlay)
    return found


def test_the_promoter_role_reads_applications_only() -> None:
    bindings = [
        b
        for b in of_kind("RoleBinding") + of_kind("ClusterRoleBinding")
        if {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": PROMOTER}
        in b["subjects"]
    ]
    assert [(b["kind"], b["metadata"]["namespace"]) for b in bindings] == [
        ("RoleBinding", "argocd")
    ]
    ref = bindings[0]["roleRef"]
    assert ref["kind"] == "Role"
    (role,) = (r for r in of_kind("Role") if r["metadata"]["name"] == ref["name"])
    assert role["metadata"]["namespace"] == "argocd"
    assert [{**r, "verbs": sorted(r["verbs"])} for r in role["rules"]] == [
        {"apiGroups": ["argoproj.io"], "resources": ["applications"], "verbs": sorted(READ_VERBS)}
    ]


@needs_kubectl
def test_nothing_in_the_repo_lets_the_promoter_write_to_the_cluster() -> None:
    objects = every_object_in_the_repo()
    assert any(o["kind"] == "RoleBinding" for o in objects)
    assert promoter_grants(objects) == []


def _binding(kind: str, role_kind: str, role: str) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": "promoter-extra", "namespace": "demo-shop-dev"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": PROMOTER}],
    }


def test_the_grant_check_catches_write_access() -> None:
    deployer = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "deployer", "namespace": "demo-shop-dev"},
        "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch"]}],
    }
    rbac_cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-rbac-cm", "namespace": "argocd"},
        "data": {"policy.csv": f"g, {PROMOTER}, role:admin"},
    }
    reader = {**deployer, "metadata": {"name": "reader", "namespace": "demo-shop-dev"}}
    reader["rules"] = [{"apiGroups": ["apps"], "resources": ["*"], "verbs": sorted(READ_VERBS)}]
    objects = [
        reader,
        _binding("RoleBinding", "Role", "reader"),
        deployer,
        _binding("RoleBinding", "Role", "deployer"),
        _binding("ClusterRoleBinding", "ClusterRole", "edit"),
        rbac_cm,
    ]
    assert promoter_grants(objects) == [
        "RoleBinding/promoter-extra: Role deployer grants ['patch']",
        "ClusterRoleBinding/promoter-extra: binds to ClusterRole edit, not defined here",
        "ConfigMap/argocd-rbac-cm: names the promoter outside an RBAC binding",
    ]


# --- core objects and the kustomization ---------------------------------------------------------


def test_core_objects_in_argocd_validate_strictly() -> None:
    core = [o for o in argocd_objects() if not o["apiVersion"].startswith("argoproj.io/")]
    assert sorted(o["kind"] for o in core) == [
        "ConfigMap",
        "Namespace",
        "Namespace",
        "Role",
        "RoleBinding",
    ]
    assert [p for o in core for p in schema_problems(o)] == []


@needs_kubectl
def test_kustomization_installs_every_file_but_the_argocd_cm_patch() -> None:
    listed = load_docs((ARGOCD / "kustomization.yaml").read_text())[0]["resources"]
    files = {str(p.relative_to(ARGOCD)) for p in ARGOCD.rglob("*.yaml")}
    assert set(listed) == files - {"kustomization.yaml", "argocd-cm-links.yaml"}

    def ids(objects: Any) -> list[tuple[str, str, str]]:
        return sorted(
            (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objects
        )

    expected = [d for f in listed for d in load_docs((ARGOCD / f).read_text())]
    assert ids(load_docs(kustomize(ARGOCD))) == ids(expected)


# --- links from the Argo CD UI back to the build ------------------------------------------------


def history_url(app: Obj) -> str:
    source = app["spec"]["source"]
    return f"{REPO_URL.removesuffix('.git')}/commits/{source['targetRevision']}/{source['path']}"


def test_applications_carry_build_info_and_take_their_links_from_argocd_cm() -> None:
    """`link.argocd.argoproj.io/*` annotations are documented for the resources an Application
    manages (https://argo-cd.readthedocs.io/en/stable/user-guide/external-url/); an
    Application's own links are argocd-cm's deep links (below), so none is repeated here."""
    for name, app in applications().items():
        annotations = app["metadata"].get("annotations") or {}
        assert not [key for key in annotations if key.startswith(LINK_PREFIX)], name
        info = {i["name"]: i["value"] for i in app["spec"]["info"]}
        assert BUILDS in info.values(), name
        assert any("Build-Log" in v for v in info.values()), name


def deep_links() -> list[Obj]:
    (patch,) = load_docs((ARGOCD / "argocd-cm-links.yaml").read_text())
    assert patch["kind"] == "ConfigMap" and patch["metadata"]["name"] == "argocd-cm"
    links = cast(list[Obj], load_docs(patch["data"]["application.links"])[0])
    return links


def expand(template: str, app: Obj) -> str:
    """Fill `{{.application.x.y}}` from `app`, as Argo CD's text/template would."""

    def value(match: re.Match[str]) -> str:
        root, *path = match.group(1).split(".")
        assert root in {"application", "cluster"}, f"application.links cannot see .{root}"
        if path[0] == "status":  # exists only at runtime
            return "0123456789abcdef0123456789abcdef01234567"
        node: Any = app
        for key in path:
            node = node[key]
        assert isinstance(node, str) and node, match.group(0)
        return node

    return re.sub(r"\{\{\s*\.([\w.]+)\s*\}\}", value, template)


def test_deep_links_resolve_for_every_application() -> None:
    links = deep_links()
    assert links
    for link in links:
        assert set(link) <= LINK_KEYS and {"title", "url"} <= set(link), link
        if "if" in link:
            assert link["if"] == f'application.spec.project == "{project()["metadata"]["name"]}"'
    for app in applications().values():
        urls = [expand(link["url"], app) for link in links]
        assert all(urlsplit(u).scheme == "https" and "{{" not in u for u in urls), urls
        assert BUILDS in urls
        assert history_url(app) in urls
        assert any(u.startswith(f"{REPO_URL.removesuffix('.git')}/commit/") for u in urls)


@needs_kubectl
def test_deep_links_patch_merges_into_an_existing_argocd_cm(tmp_path: Path) -> None:
    (tmp_path / "argocd-cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cm\n  namespace: argocd\n"
        "data:\n  url: https://argocd.example.com\n"
    )
    (tmp_path / "links.yaml").write_text((ARGOCD / "argocd-cm-links.yaml").read_text())
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [argocd-cm.yaml]\npatches:\n  - path: links.yaml\n"
    )
    (merged,) = load_docs(kustomize(tmp_path))
    assert set(merged["data"]) == {"url", "application.links"}
    assert schema_problems(merged) == []


def test_one_config_repo_url_everywhere_argo_cd_and_the_promoter_meet_it() -> None:
    """Argo CD finds a repository's credentials by its URL: the Applications, the AppProject's
    sourceRepos, the guide's `argocd repo add` and the promoter's PROMOTER_REPO_URL name one."""
    urls = {app["spec"]["source"]["repoURL"] for app in applications().values()}
    urls |= set(project()["spec"]["sourceRepos"])
    guide = (ROOT / "docs" / "deploy-gcp.md").read_text()
    added = re.findall(r"^argocd repo add (\S+)", guide, flags=re.MULTILINE)
    assert added, "the guide registers the config repo with Argo CD"
    urls |= set(added)
    deploy = yaml.safe_load((ROOT / "promoter" / "cloudbuild.yaml").read_text())
    urls.add(deploy["substitutions"]["_CONFIG_REPO_URL"])
    assert urls == {"https://github.com/demo-shop/shop.git"}
