"""Config repos shaped like real ones (issue 9), built with git fast-import.

`families`: the built image (`.../apps/web`) in 12 files, 4 clusters x 3 environments, as
container `image:` fields and kustomize `images:` entries, beside `size` files that name its
near-misses (`web-api`, `web70`, `webhook-3`, `web/worker-5`, a mirror whose name ends in the
target's whole name...), and a few thousand commits touching the near-misses.
`rendered`: one checked-in `helm template` output of about `size` KB that names the image in
exactly two Deployments, and a few small files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.repos import REGISTRY, TARGET, import_history

# The sizes the issue measured, where its targets are judged.
ISSUE_SIZES = {"families": 400, "rendered": 800}
FAMILY_COMMITS = 3000
RENDERED_COMMITS = 20
ENVIRONMENTS = ("dev", "staging", "prod")
CLUSTERS = 4
ZERO_DIGEST = "sha256:" + "0" * 64
_NEAR_MISSES = (
    "{registry}/web-api-v{i}",
    "{registry}/web{i}",
    "{registry}/webhook-{i}",
    "{registry}/web_x{i}",
    "{registry}/web-api",
    "{registry}/web/worker-{i}",
    "{registry}/web.legacy-{i}",
    "mirror.example.com/{registry}/web",  # the target's whole name inside another name
    "{registry}/web-api-v2",
    "{registry}/web-{i}",
)
# What a person edits by hand: the target's image values and its kustomize entries' tag and
# digest, found by their text alone (these generated files keep them on the lines matched here).
_IMAGE_LINE = re.compile(rf'^([ \t]*(?:- )?image: "?{re.escape(TARGET)})[:@][^\s"#]*', re.M)
_KUSTOMIZE_ENTRY = re.compile(
    rf"^([ \t]*(?:- )?(?:name|newName): {re.escape(TARGET)}\n[ \t]+newTag: )\S+"
    r"(\n[ \t]+digest: )\S+",
    re.M,
)


@dataclass(frozen=True)
class Shape:
    """A generated repo, the files naming the target and how many lines a promotion changes."""

    name: str
    size: int  # near-miss files (families) or KB of the rendered file (rendered)
    bare: Path
    paths: tuple[str, ...]
    lines: int


def shape_label(name: str, size: int | str) -> str:
    """How a shape and size are named in the figures: `families 400 near-misses`."""
    return f"{name} {size}{' near-misses' if name == 'families' else ' KB'}"


def pin_text(text: str, *, tag: str, digest: str) -> str:
    """The target pinned by a small text replacement, as the floor does it by hand."""
    text = _IMAGE_LINE.sub(rf"\g<1>:{tag}@{digest}", text)
    return _KUSTOMIZE_ENTRY.sub(rf"\g<1>{tag}\g<2>{digest}", text)


def pin_by_hand(text: str, n: int) -> str:
    """The floor's edit in its `n`-th cycle."""
    return pin_text(text, tag=f"f{n}", digest=f"sha256:{n:064x}")


# families


def build_families(root: Path, size: int, *, commits: int = FAMILY_COMMITS) -> Shape:
    """The target in 12 files, `size` files naming its near-misses, `commits` commits."""
    bare = root / f"families-{size}n-{commits}c.git"
    targets = [(_target_path(k), _target_text(k)) for k in range(CLUSTERS * len(ENVIRONMENTS))]
    if not bare.exists():
        first = targets + [(_near_miss_path(i), _near_miss_text(i, "1.0.0")) for i in range(size)]
        bumps = (
            [(_near_miss_path(n % size), _near_miss_text(n % size, f"1.0.{n}"))]
            for n in range(1, commits)
        )
        import_history(bare, [first, *bumps])
    lines = sum(1 if path.endswith("deployment.yaml") else 2 for path, _ in targets)
    return Shape("families", size, bare, tuple(path for path, _ in targets), lines)


def _target_path(k: int) -> str:
    env = ENVIRONMENTS[k % len(ENVIRONMENTS)]
    file = "deployment.yaml" if k % 3 == 0 else "kustomization.yaml"
    return f"clusters/c{k // len(ENVIRONMENTS)}/{env}/web/{file}"


def _target_text(k: int) -> str:
    if k % 3 == 0:
        return _deployment("web", [(TARGET, "1.0.0  # promoted"), (f"{REGISTRY}/web-api", "2.4.1")])
    if k % 3 == 1:
        entries = [
            f"  - name: {REGISTRY}/web-api\n    newTag: 2.4.1\n",
            f"  - name: {TARGET}\n    newTag: 1.0.0\n    digest: {ZERO_DIGEST}\n",
            f"  - name: {REGISTRY}/webhook\n    newTag: 0.9.0\n",
        ]
    else:
        entries = [
            f"  - name: web\n    newName: {TARGET}\n    newTag: 1.0.0\n    digest: {ZERO_DIGEST}\n",
            f"  - name: web-api-v2\n    newName: {REGISTRY}/web-api-v2\n    newTag: 3.0.0\n",
        ]
    return _kustomization(entries)


def near_miss(i: int) -> str:
    """The image repository the i-th near-miss file names: a prefix of it is the target's."""
    return _NEAR_MISSES[i % len(_NEAR_MISSES)].format(registry=REGISTRY, i=i)


def _near_miss_path(i: int) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", near_miss(i).rsplit("/", 1)[-1])
    env = ENVIRONMENTS[i // CLUSTERS % len(ENVIRONMENTS)]
    file = "deployment.yaml" if i % 2 else "kustomization.yaml"
    return f"clusters/c{i % CLUSTERS}/{env}/{slug}-{i:04d}/{file}"


def _near_miss_text(i: int, tag: str) -> str:
    if i % 2:
        return _deployment(f"app-{i:04d}", [(near_miss(i), tag)])
    return _kustomization([f"  - name: {near_miss(i)}\n    newTag: {tag}\n"])


def _deployment(name: str, images: list[tuple[str, str]]) -> str:
    containers = "".join(
        f"        - name: c{n}\n          image: {image}:{tag}\n          ports:\n"
        f"            - containerPort: {8080 + n}\n"
        for n, (image, tag) in enumerate(images)
    )
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n"
        f"  replicas: 3\n  template:\n    spec:\n      containers:\n{containers}"
    )


def _kustomization(entries: list[str]) -> str:
    return (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources:\n  - ../../../base/app\nimages:\n{''.join(entries)}"
    )


# rendered


def build_rendered(root: Path, size: int, *, commits: int = RENDERED_COMMITS) -> Shape:
    """`rendered/all.yaml` of about `size` KB naming the target twice, `commits` commits."""
    bare = root / f"rendered-{size}k-{commits}c.git"
    if not bare.exists():
        first = [
            ("rendered/all.yaml", rendered_text(size * 1024)),
            ("charts/platform/values.yaml", _VALUES),
            ("apps/tools/deployment.yaml", _deployment("tools", [(f"{REGISTRY}/tools", "0.1.0")])),
            ("README.md", "`helm template platform charts/platform > rendered/all.yaml`\n"),
        ]
        later = (_rendered_change(size, n) for n in range(1, commits))
        import_history(bare, [first, *later])
    return Shape("rendered", size, bare, ("rendered/all.yaml",), 2)


def _rendered_change(size: int, n: int) -> list[tuple[str, str]]:
    if n % 4 == 0:  # a release: the chart rendered again with another version of one service
        return [("rendered/all.yaml", rendered_text(size * 1024, release=n))]
    tools = _deployment("tools", [(f"{REGISTRY}/tools", f"0.1.{n}")])
    return [("apps/tools/deployment.yaml", tools)]


def rendered_text(size: int, *, release: int | None = None) -> str:
    """About `size` bytes of `helm template` output; the target in two Deployments only."""
    pieces: list[str] = []
    length, due = 0, [size // 3, 2 * size // 3]
    for n, component in enumerate(_components(release)):
        if length >= size:
            break
        if due and length >= due[0]:
            component = _component(("web", "web-worker")[2 - len(due)], TARGET, "1.0.0", n)
            due.pop(0)
        pieces.append(component)
        length += len(component)
    if due:
        raise ValueError(f"{size} bytes leave no room for the target's two Deployments")
    return "".join(pieces)


def _components(release: int | None) -> Iterator[str]:
    n = 0
    while True:
        # a few near-misses of the target's name among many other images
        image = near_miss(n // 50) if n % 50 == 25 else f"{REGISTRY}/svc-{n:04d}"
        yield _component(f"svc-{n:04d}", image, f"2.{n % 7}.{1 if n == release else 0}", n)
        n += 1


def _component(name: str, image: str, tag: str, n: int) -> str:
    """ServiceAccount, ConfigMap, Service, Deployment of one chart component."""
    source = f"---\n# Source: platform/templates/{name}/{{}}.yaml\n"
    meta = _META.format(name=name)
    end = "...\n" if n % 7 == 0 else ""  # some documents end with an explicit end marker
    return (
        source.format("serviceaccount")
        + f"apiVersion: v1\nkind: ServiceAccount\n{meta}"
        + source.format("configmap")
        + f"apiVersion: v1\nkind: ConfigMap\n{meta.replace(name, name + '-config', 1)}"
        + _CONFIG_DATA.format(name=name, n=n, upstream=f"{REGISTRY}/svc-{n + 1:04d}")
        + end
        + source.format("service")
        + f"apiVersion: v1\nkind: Service\n{meta}{_SERVICE_SPEC.format(name=name)}"
        + source.format("deployment")
        + f"apiVersion: apps/v1\nkind: Deployment\n{meta}"
        + _DEPLOYMENT_SPEC.format(name=name, image=image, tag=tag, checksum=f"{n:064x}")
        + end
    )


_META = """metadata:
  name: {name}
  labels:
    helm.sh/chart: platform-4.2.0
    app.kubernetes.io/name: {name}
    app.kubernetes.io/instance: platform
    app.kubernetes.io/version: "4.2.0"
    app.kubernetes.io/managed-by: Helm
"""
_CONFIG_DATA = """data:
  LOG_LEVEL: "info"
  application.yaml: |
    server:
      port: 8080
      name: {name}
    upstream:
      # image: {upstream}:2.4.1, as configuration text: not an image to pin
      timeout: 30s
      retries: {n}
    features:
      - tracing
      - metrics
"""
_SERVICE_SPEC = """spec:
  type: ClusterIP
  ports:
    - port: 80
      targetPort: http
      protocol: TCP
      name: http
  selector:
    app.kubernetes.io/name: {name}
    app.kubernetes.io/instance: platform
"""
_DEPLOYMENT_SPEC = """spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
      app.kubernetes.io/instance: platform
  template:
    metadata:
      annotations:
        checksum/config: {checksum}
      labels:
        app.kubernetes.io/name: {name}
        app.kubernetes.io/instance: platform
    spec:
      serviceAccountName: {name}
      containers:
        - name: {name}
          image: "{image}:{tag}"
          imagePullPolicy: IfNotPresent
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
          resources:
            limits: {{cpu: 500m, memory: 256Mi}}
"""
_VALUES = f"""image:
  repository: {TARGET}
  tag: 1.0.0
worker:
  image:
    repository: {TARGET}
"""
