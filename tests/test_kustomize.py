"""The example app's overlays as Kubernetes will see them: rendered, schema-valid, pinned, hardened.

Each overlay is rendered with the real `kubectl kustomize` and every object is validated with
kubernetes-validate in strict mode (unknown fields fail, as `kubectl apply --validate=strict`
does). The end-to-end test runs the real promoter CLI on a copy of this repo and renders again.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from ruamel.yaml import YAML

from .conftest import WEB, build, digest_of, git, run_cli

ROOT = Path(__file__).resolve().parents[1]
OVERLAYS_DIR = ROOT / "manifests" / "overlays"
NAMESPACES = {"dev": "demo-shop-dev", "prod": "demo-shop-prod"}
KUBECTL = shutil.which("kubectl")
K8S_VERSION = kubernetes_validate.utils.latest_version()
PINNED = re.compile(rf"^{re.escape(WEB)}(:[\w][\w.-]{{0,127}})?@sha256:[0-9a-f]{{64}}$")

needs_kubectl = pytest.mark.skipif(
    KUBECTL is None, reason="kubectl (with kustomize) is not on PATH: cannot render the overlays"
)


def load_docs(text: str) -> list[dict[str, Any]]:
    """Every non-empty YAML document in `text`, as plain data."""
    return [d for d in YAML(typ="safe", pure=True).load_all(text) if d is not None]


def kustomize(path: Path) -> str:
    """`kubectl kustomize path`, as text."""
    if KUBECTL is None:
        pytest.skip("kubectl (with kustomize) is not on PATH: cannot render")
    done = subprocess.run(
        [KUBECTL, "kustomize", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"kubectl kustomize {path} failed:\n{done.stderr}"
    return done.stdout


@functools.cache
def render(path: Path) -> tuple[dict[str, Any], ...]:
    """The objects `kubectl kustomize path` renders (cached: the tree does not change in a run)."""
    return tuple(load_docs(kustomize(path)))


def overlays() -> list[str]:
    return sorted(p.name for p in OVERLAYS_DIR.iterdir() if (p / "kustomization.yaml").is_file())


def workloads(objects: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job"}]


def containers(workload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    pod = workload["spec"]["template"]["spec"]
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from pod.get(key) or []


def schema_problems(obj: dict[str, Any]) -> list[str]:
    """kubernetes-validate's verdict in strict mode, as messages (empty when valid)."""
    try:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as err:
        where = ".".join(map(str, err.path)) or "<root>"
        return [f"{obj['kind']}/{obj['metadata']['name']}: {where}: {err.message}"]
    return []


def hardening_problems(workload: dict[str, Any]) -> list[str]:
    """What a workload lacks of probes, resources and a restricted securityContext."""
    pod = workload["spec"]["template"]["spec"]
    pod_sc = pod.get("securityContext") or {}
    problems = []
    for c in pod.get("containers") or []:
        sc = c.get("securityContext") or {}
        res = c.get("resources") or {}
        checks = {
            "readinessProbe": "readinessProbe" in c,
            "livenessProbe": "livenessProbe" in c,
            "requests.cpu": "cpu" in (res.get("requests") or {}),
            "requests.memory": "memory" in (res.get("requests") or {}),
            "limits.memory": "memory" in (res.get("limits") or {}),
            "runAsNonRoot": sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True,
            "readOnlyRootFilesystem": sc.get("readOnlyRootFilesystem") is True,
            "allowPrivilegeEscalation: false": sc.get("allowPrivilegeEscalation") is False,
            "capabilities.drop ALL": "ALL" in ((sc.get("capabilities") or {}).get("drop") or []),
            "seccompProfile RuntimeDefault": (
                (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
                == "RuntimeDefault"
            ),
        }
        problems += [f"container {c['name']}: no {name}" for name, ok in checks.items() if not ok]
    return problems


def test_every_overlay_has_an_expected_namespace() -> None:
    assert set(overlays()) == set(NAMESPACES)


@needs_kubectl
@pytest.mark.parametrize("overlay", sorted(NAMESPACES))
def test_overlay_renders_schema_valid_objects(overlay: str) -> None:
    objects = render(OVERLAYS_DIR / overlay)
    assert {o["kind"] for o in objects} >= {"Deployment", "Service"}
    assert [p for o in objects for p in schema_problems(o)] == []


@needs_kubectl
@pytest.mark.parametrize("overlay", sorted(NAMESPACES))
def test_overlay_puts_everything_in_its_namespace(overlay: str) -> None:
    objects = render(OVERLAYS_DIR / overlay)
    assert {o["metadata"].get("namespace") for o in objects} == {NAMESPACES[overlay]}


@needs_kubectl
@pytest.mark.parametrize("overlay", sorted(NAMESPACES))
def test_overlay_pins_the_web_image_by_digest(overlay: str) -> None:
    images = [c["image"] for w in workloads(render(OVERLAYS_DIR / overlay)) for c in containers(w)]
    assert images, "no container rendered"
    assert [i for i in images if not PINNED.match(i)] == []


@needs_kubectl
@pytest.mark.parametrize("overlay", sorted(NAMESPACES))
def test_overlay_workloads_are_probed_sized_and_restricted(overlay: str) -> None:
    found = workloads(render(OVERLAYS_DIR / overlay))
    assert [w["kind"] for w in found] == ["Deployment"]
    assert [p for w in found for p in hardening_problems(w)] == []


@needs_kubectl
def test_the_checks_reject_a_weakened_deployment() -> None:
    (deployment,) = workloads(render(OVERLAYS_DIR / "dev"))
    weak = copy.deepcopy(deployment)
    pod = weak["spec"]["template"]["spec"]
    web = pod["containers"][0]
    del web["livenessProbe"], pod["securityContext"]["seccompProfile"]
    web["securityContext"]["allowPrivilegeEscalation"] = True
    web["securityContext"]["capabilities"]["drop"] = ["NET_RAW"]
    web["image"] = f"{WEB}:latest"
    assert hardening_problems(weak) == [
        "container web: no livenessProbe",
        "container web: no allowPrivilegeEscalation: false",
        "container web: no capabilities.drop ALL",
        "container web: no seccompProfile RuntimeDefault",
    ]
    assert not PINNED.match(web["image"])

    web["imagePullPolicyy"] = "Always"  # unknown field: only strict validation catches it
    assert schema_problems(weak) != []
    weak["spec"]["replicas"] = "two"
    del web["imagePullPolicyy"]
    assert "replicas" in " ".join(schema_problems(weak))


def clone(bare: Path, dest: Path) -> Path:
    git("clone", "-q", bare, dest)
    return dest


def trailers(checkout: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    text = git("log", "-1", "--format=%(trailers:only,unfold)", cwd=checkout)
    for line in text.splitlines():
        key, _, value = line.partition(": ")
        out.setdefault(key, []).append(value)
    return out


@needs_kubectl
def test_a_promotion_of_web_renders_its_digest_in_dev_and_leaves_prod(
    make_config_repo: Callable[..., Path], tmp_path: Path
) -> None:
    seed = [ROOT / "promoter.yaml", *(p for p in (ROOT / "manifests").rglob("*") if p.is_file())]
    bare = make_config_repo({str(p.relative_to(ROOT)): p.read_text() for p in seed}, source=None)
    before = clone(bare, tmp_path / "before")
    digest = digest_of("a new web build")
    event = build(image=WEB, digest=digest)

    command: list[str | Path] = [
        "promote",
        "--event",
        "-",
        "--repo",
        bare,
        "--workdir",
        tmp_path / "work",
    ]
    done = run_cli(*command, stdin=json.dumps(event))

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outcome"] == "promoted"
    after = clone(bare, tmp_path / "after")
    dev = load_docs(kustomize(after / "manifests/overlays/dev"))
    (deployment,) = (o for o in dev if o["kind"] == "Deployment")
    assert [c["image"] for c in containers(deployment)] == [f"{WEB}@{digest}"]
    (old,) = {c["image"] for w in workloads(render(OVERLAYS_DIR / "dev")) for c in containers(w)}
    old_dev = kustomize(before / "manifests/overlays/dev")
    assert kustomize(after / "manifests/overlays/dev") == old_dev.replace(old, f"{WEB}@{digest}")
    assert kustomize(after / "manifests/overlays/prod") == kustomize(
        before / "manifests/overlays/prod"
    )
    assert [p for o in dev for p in schema_problems(o)] == []
    # What Argo CD shows for the synced revision: the commit message names the build.
    found = trailers(after)
    assert found["Build-Id"] == [event["id"]]
    assert found["Image"] == [f"{WEB}@{digest}"]
    assert found["Source-Commit"] == [event["substitutions"]["COMMIT_SHA"]]
    assert found["Build-Log"] == [event["logUrl"]]
