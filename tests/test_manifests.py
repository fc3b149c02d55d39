"""Finding and pinning image references in manifests: the edit is the image value, byte for byte."""

from __future__ import annotations

import difflib
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from promoter.errors import ManifestError
from promoter.images import ImageRef
from promoter.manifests import Change, Site, find_sites, pin

DATA = Path(__file__).parent / "data" / "manifests"

CART = "europe-west1-docker.pkg.dev/demo-shop/apps/cart"
WEB = "europe-west1-docker.pkg.dev/demo-shop/apps/web"
WEB_WORKER = "europe-west1-docker.pkg.dev/demo-shop/apps/web-worker"
PORT_CART = "registry.demo-shop.internal:5000/apps/cart"
CART_DIGEST = "sha256:20e7a9f9014b95dd5cc4883701cb6d7418c1b4a1712ba6b529e5c7397153a5e0"
WEB_DIGEST = "sha256:c200d09a087234ebc55f4062c41f6a171d5a0b005fc1d4563e7e82dfde8844f1"
OLD_DIGEST = "sha256:c65bd9bde697bbe47c7af7fc28744fa1edc2e01b0468c23b503cde491e40bd86"
WEB_OLD_DIGEST = "sha256:8cce6b5317e9ac54ca00cdf56f0f00ee81185b4da7494dea0ca57bb33e3957bf"


def cart(tag: str | None = "v1.4.2") -> dict[str, ImageRef]:
    return {CART: ImageRef(CART, CART_DIGEST, tag)}


def web(tag: str | None = "2.1.0", repository: str = WEB) -> dict[str, ImageRef]:
    return {repository: ImageRef(repository, WEB_DIGEST, tag)}


# name -> (the path pin is told, the built images)
GOLDEN: dict[str, tuple[str, dict[str, ImageRef]]] = {
    "deployment-comments": ("deploy/cart/deployment.yaml", cart()),
    "multi-doc-markers": ("deploy/cart/all.yaml", cart()),
    "flow-style-containers": ("deploy/cart/pods.yaml", cart()),
    "long-lines": ("deploy/cart/deployment.yaml", cart(None)),
    "crlf": ("deploy/cart/job.yaml", cart()),
    "quoted-images": ("deploy/cart/daemonset.yaml", cart()),
    "cronjob": ("deploy/cart/cronjob.yaml", cart()),
    "statefulset-init-containers": ("deploy/cart/statefulset.yaml", {**cart(), **web()}),
    "argo-rollout-and-list": ("deploy/cart/rollout.yaml", cart()),
    "anchored-image": ("deploy/cart/deployment.yaml", cart()),
    "similar-repo-names": ("deploy/web/deployment.yaml", web()),
    "unrelated-keys": ("deploy/cart/all.yaml", cart()),
    "registry-port": ("deploy/cart/deployment.yaml", web("v1.4.2", PORT_CART)),
    "kustomization-newtag": ("overlays/prod/kustomization.yaml", {**cart("1.5"), **web()}),
    "kustomization-no-tag": (
        "overlays/prod/kustomization.yaml",
        {**cart(None), **web(None), **web(None, WEB_WORKER)},
    ),
    "kustomization-flow": (
        "overlays/dev/kustomization.yaml",
        {**cart(), **web(), **web("latest", WEB_WORKER)},
    ),
    "kustomization-crlf-no-final-newline": (
        "overlays/dev/kustomization.yaml",
        {**cart(None), **web()},
    ),
    "kustomization-newname": ("components/cart/kustomization.yaml", cart()),
    "rendered-neighbours": ("charts/rendered/all.yaml", cart()),
    "yaml-directive": ("deploy/cart/all.yaml", cart()),
}


def read(name: str) -> str:
    """The file's text exactly as stored: no newline translation."""
    return (DATA / name).read_bytes().decode("utf-8")


# The diff check: a changed line may differ only in the value of an image, digest or newTag key.

_PLAIN = r"""[^\s,{}\[\]#'"](?:[^,{}\[\]#\r\n]*[^\s,{}\[\]#])?"""
_VALUE = rf"""(?:"[^"\r\n]*"|'[^'\r\n]*'|{_PLAIN})"""
_KEYED_VALUE = re.compile(
    rf"""\b(image|digest|newTag)(["']?[ \t]*:[ \t]+(?:[&!]\S*[ \t]+)*){_VALUE}"""
)
# A value alone on its line, as when `image:` has it on the line below.
_BARE_VALUE = re.compile(r"^([ \t]+)[^\s,{}\[\]#'\"]+([ \t]*(?:#[^\r\n]*)?\r?\n?)$")
_FLOW_ITEM = re.compile(r",\s*(?:digest|newTag)\s*:\s+<v>|(?:digest|newTag)\s*:\s+<v>\s*,\s*")
_WHOLE_LINE = re.compile(r"[ \t]*(?:digest|newTag)[ \t]*:[ \t][^\r\n]*\r?\n?")


def _masked(line: str) -> str:
    line = _BARE_VALUE.sub(r"\1<v>\2", line)
    return _FLOW_ITEM.sub("", _KEYED_VALUE.sub(r"\1\2<v>", line))


def _kept(lines: list[str]) -> list[str]:
    """Masked lines, without whole digest/newTag lines, which pin may add or remove."""
    return [_masked(line) for line in lines if not _WHOLE_LINE.fullmatch(line)]


def _lines(text: str, eol: str) -> list[str]:
    # A line added after a last line without a line ending gives that line one: not a change.
    return (text if text.endswith("\n") else text + eol).splitlines(keepends=True)


def assert_minimal_diff(old: str, new: str) -> None:
    """Every line pin changed differs from the original only in an image/digest/newTag value."""
    assert old.endswith("\n") == new.endswith("\n")
    eol = "\r\n" if "\r\n" in old else "\n"
    a, b = _lines(old, eol), _lines(new, eol)
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op != "equal":
            assert _kept(a[i1:i2]) == _kept(b[j1:j2]), (a[i1:i2], b[j1:j2])


def test_the_diff_check_catches_other_changes() -> None:
    with pytest.raises(AssertionError):
        assert_minimal_diff("replicas: 1\nimage: a:1\n", "replicas: 2\nimage: a:2\n")
    with pytest.raises(AssertionError):
        assert_minimal_diff("image: a:1\r\n", "image: a:2\n")
    with pytest.raises(AssertionError):
        assert_minimal_diff("image: a:1  # note\n", "image: a:2\n")
    assert_minimal_diff("- image: 'a:1'  # x\n", "- image: 'a@sha256:00'  # x\n")


# Golden files


@pytest.mark.parametrize("name", GOLDEN)
def test_a_byte_order_mark_changes_nothing_but_itself(name: str) -> None:
    # libyaml skips a leading BOM without counting it: found by the fuzzing pass (test_fuzz.py).
    path, images = GOLDEN[name]
    new, _ = pin("\ufeff" + read(f"{name}.yaml"), images, path=path)
    assert new == "\ufeff" + read(f"{name}.expected.yaml")


@pytest.mark.parametrize("name", GOLDEN)
def test_pin_matches_the_golden_file_byte_for_byte(name: str) -> None:
    path, images = GOLDEN[name]
    original = read(f"{name}.yaml")

    new, changes = pin(original, images, path=path)

    assert new == read(f"{name}.expected.yaml")
    assert changes
    assert_minimal_diff(original, new)


@pytest.mark.parametrize("name", GOLDEN)
def test_pin_twice_is_pin_once(name: str) -> None:
    path, images = GOLDEN[name]
    once, _ = pin(read(f"{name}.yaml"), images, path=path)

    twice, changes = pin(once, images, path=path)

    assert twice is once
    assert changes == []


@pytest.mark.parametrize("name", GOLDEN)
def test_pinned_sites_read_back_with_the_new_digest(name: str) -> None:
    path, images = GOLDEN[name]
    new = read(f"{name}.expected.yaml")

    sites = find_sites(new, images.keys(), path=path)

    assert sites
    assert all(site.digest == images[site.repository].digest for site in sites)


def test_changes_name_the_old_and_new_reference() -> None:
    _, changes = pin(read("statefulset-init-containers.yaml"), {**cart(), **web()}, path="s.yaml")

    assert changes == [
        Change(CART, f"{CART}:1.3.0@{OLD_DIGEST}", f"{CART}:v1.4.2@{CART_DIGEST}"),
        Change(WEB, f"{WEB}:2.0.1", f"{WEB}:2.1.0@{WEB_DIGEST}"),
        Change(CART, CART, f"{CART}:v1.4.2@{CART_DIGEST}"),
        Change(CART, f"{CART}:1.3.0", f"{CART}:v1.4.2@{CART_DIGEST}"),
        Change(CART, f"{CART}:debug", f"{CART}:v1.4.2@{CART_DIGEST}"),
    ]


def test_kustomize_changes_show_what_kustomize_renders() -> None:
    path, images = GOLDEN["kustomization-flow"]

    _, changes = pin(read("kustomization-flow.yaml"), images, path=path)

    assert changes == [
        Change(CART, f"{CART}:1.3.0", f"{CART}:v1.4.2@{CART_DIGEST}"),
        Change(WEB, f"{WEB}@{WEB_OLD_DIGEST}", f"{WEB}@{WEB_DIGEST}"),
        Change(WEB_WORKER, f"{WEB_WORKER}:latest", f"{WEB_WORKER}@{WEB_DIGEST}"),
        Change(CART, CART, f"{CART}@{CART_DIGEST}"),
    ]


# find_sites


def test_find_sites_lists_container_images_in_document_order() -> None:
    sites = find_sites(read("statefulset-init-containers.yaml"), [CART], path="s.yaml")

    assert sites == [
        Site(CART, "container", f"{CART}:1.3.0@{OLD_DIGEST}", OLD_DIGEST),
        Site(CART, "container", CART, None),
        Site(CART, "container", f"{CART}:1.3.0", None),
        Site(CART, "container", f"{CART}:debug", None),
    ]


@pytest.mark.parametrize(
    ("repository", "image"),
    [
        (WEB, f"{WEB}:2.0.1"),
        (WEB_WORKER, f"{WEB_WORKER}:2.0.1"),
        (f"{WEB}/nginx", f"{WEB}/nginx:2.0.1"),
        ("europe-west1-docker.pkg.dev/demo-shop-staging/apps/web", None),
    ],
)
def test_find_sites_matches_the_repository_exactly(repository: str, image: str | None) -> None:
    sites = find_sites(read("similar-repo-names.yaml"), [repository], path="d.yaml")

    if image is None:
        assert len(sites) == 1  # the staging one, and only it
        assert sites[0].image.startswith("europe-west1-docker.pkg.dev/demo-shop-staging/")
    else:
        assert sites == [Site(repository, "container", image, None)]


def test_find_sites_compares_a_registry_port_as_part_of_the_name() -> None:
    text = read("registry-port.yaml")

    assert [s.image for s in find_sites(text, [PORT_CART], path="d.yaml")] == [f"{PORT_CART}:1.3.0"]
    assert find_sites(text, ["registry.demo-shop.internal/apps/cart"], path="d.yaml") == [
        Site(
            "registry.demo-shop.internal/apps/cart",
            "container",
            "registry.demo-shop.internal/apps/cart:1.3.0",
            None,
        )
    ]


def test_repository_strings_outside_container_images_are_not_sites() -> None:
    sites = find_sites(read("unrelated-keys.yaml"), [CART], path="all.yaml")

    assert sites == [Site(CART, "container", f"{CART}:1.3.0", None)]


def test_kustomize_sites_match_new_name_over_name() -> None:
    text = read("kustomization-newname.yaml")

    assert find_sites(text, [CART], path="components/cart/kustomization.yaml") == [
        Site(CART, "kustomize", CART, None)
    ]
    canary = f"{CART}-canary"
    assert find_sites(text, [canary], path="x.yaml") == [
        Site(canary, "kustomize", f"{canary}:1.3.0", None)
    ]


def test_kustomize_sites_carry_tag_and_digest() -> None:
    sites = find_sites(read("kustomization-newtag.yaml"), [CART, WEB], path="k.yaml")

    assert sites == [
        Site(CART, "kustomize", f"{CART}:1.3.0", None),
        Site(WEB, "kustomize", f"{WEB}:2.0.1@{WEB_OLD_DIGEST}", WEB_OLD_DIGEST),
    ]


def test_a_kustomization_is_known_by_its_file_name_or_its_kind() -> None:
    text = read("kustomization-no-tag.yaml")  # no apiVersion, no kind

    assert len(find_sites(text, [CART], path="overlays/prod/kustomization.yaml")) == 1
    assert len(find_sites(text, [CART], path="overlays/prod/Kustomization")) == 1
    assert find_sites(text, [CART], path="overlays/prod/images.yaml") == []


# Nothing to do


def test_a_site_pinned_to_the_digest_already_is_left_alone() -> None:
    text = read("deployment-comments.expected.yaml")

    new, changes = pin(text, cart("another-tag"), path="d.yaml")

    assert new is text
    assert changes == []


def test_a_kustomize_entry_with_the_digest_already_keeps_its_tag() -> None:
    text = f"images:\n  - name: {CART}\n    newTag: 1.3.0\n    digest: {CART_DIGEST}\n"

    assert pin(text, cart(None), path="kustomization.yaml") == (text, [])


def test_a_file_without_sites_comes_back_unchanged() -> None:
    text = read("similar-repo-names.yaml")

    new, changes = pin(text, cart(), path="d.yaml")

    assert new is text
    assert changes == []


# Hostile or broken files


def test_an_alias_bomb_is_walked_once_per_node() -> None:
    # Expanded, this is 9**7 (4.8 million) containers: a walk that follows every alias takes
    # many seconds. Composed, it is a dozen nodes.
    lines = ["apiVersion: v1", "kind: List", "items:"]
    lines += [f"  - l0: &l0 [{{containers: [{{name: c, image: '{CART}:1.3.0'}}]}}]"]
    lines += [f"  - l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 8)]
    text = "\n".join(lines) + "\n"

    started = time.monotonic()
    sites = find_sites(text, [CART], path="bomb.yaml")
    new, changes = pin(text, cart(), path="bomb.yaml")

    assert time.monotonic() - started < 1
    assert len(sites) == len(changes) == 1
    assert_minimal_diff(text, new)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("kind: Pod\nspec:\n\tcontainers: []\n", 3, "'\\t'"),
        ("kind: Pod\nmetadata: {name: x\n", 3, "expected ',' or '}'"),
        ("kind: Pod\nimage: 'unterminated\n", 3, "unexpected end of stream"),
        ("a: b\nc: d: e\n", 2, "mapping values are not allowed"),
        ("a: *nowhere\n", 1, "undefined alias"),
        ("a: \x07\n", 1, "special characters"),
    ],
)
def test_a_parse_error_is_one_line_with_path_and_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(ManifestError) as caught:
        find_sites(text, [CART], path="deploy/cart/pod.yaml")

    message = str(caught.value)
    assert message.startswith(f"deploy/cart/pod.yaml: line {line}: ")
    assert reason in message
    assert "\n" not in message


DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
        - name: cart
{image}
"""


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        (f"          image: |\n            {CART}:1.3.0", "block scalar"),
        (f"          image: >-\n            {CART}:1.3.0", "block scalar"),
        (f'          image: "{CART}:\\\n            1.3.0"', "on one line"),
        (f"          image: {CART}:1.3.0\n          image: {CART}:1.3.1", "duplicate key 'image'"),
    ],
)
def test_an_image_that_cannot_be_pinned_safely_is_an_error(image: str, reason: str) -> None:
    with pytest.raises(ManifestError, match=rf"^deploy/d\.yaml: line (8|9): .*{reason}"):
        pin(DEPLOYMENT.format(image=image), cart(), path="deploy/d.yaml")


def test_a_block_scalar_image_of_another_repository_is_no_concern() -> None:
    text = DEPLOYMENT.format(image=f"          image: |\n            {WEB}:1.3.0")

    assert pin(text, cart(), path="d.yaml") == (text, [])


def test_values_that_are_not_references_are_not_sites() -> None:
    text = DEPLOYMENT.format(image="          image: Not An Image!")

    assert find_sites(text, [CART], path="d.yaml") == []


def test_a_kind_that_is_not_a_string_makes_no_kustomization() -> None:
    text = f"apiVersion: v1\nkind: {{name: Kustomization}}\nimages:\n  - name: {CART}\n"

    assert find_sites(text, [CART], path="overlays/dev/images.yaml") == []


def test_new_tag_first_on_the_dash_line_cannot_be_removed() -> None:
    text = f"images:\n  - newTag: 1.3.0\n    name: {CART}\n"

    with pytest.raises(ManifestError, match=r"^kustomization\.yaml: line 2: cannot remove newTag"):
        pin(text, cart(None), path="kustomization.yaml")


def test_an_entry_with_only_new_name_is_a_site() -> None:
    text = f"images:\n  - newName: {CART}\n"

    new, _ = pin(text, cart(), path="kustomization.yaml")

    assert new == f"images:\n  - newName: {CART}\n    digest: {CART_DIGEST}\n"


def test_an_image_aliased_from_outside_a_container_is_an_error() -> None:
    text = DEPLOYMENT.format(image="          image: *cart").replace(
        "spec:\n  template", f"spec:\n  x-default-image: &cart {CART}:1.3.0\n  template", 1
    )

    with pytest.raises(ManifestError, match=r"^d\.yaml: line 9: the image is an alias"):
        pin(text, cart(), path="d.yaml")


@pytest.mark.parametrize(
    "entry",
    [
        f"- name: {CART}\n    newTag: *tag",
        f"- name: {CART}\n    note: *tag",
    ],
)
def test_a_kustomize_entry_with_aliased_values_is_an_error(entry: str) -> None:
    text = f"x-tag: &tag 1.3.0\nimages:\n  {entry}\n"

    with pytest.raises(ManifestError, match=r"^kustomization\.yaml: line 4: "):
        pin(text, cart(None), path="kustomization.yaml")


def test_a_lone_carriage_return_after_new_tag_is_refused() -> None:
    text = f"images:\n  - name: {CART}\n    newTag: 1.3.0\r"

    with pytest.raises(ManifestError, match=r"^kustomization\.yaml: line 3: cannot remove newTag"):
        pin(text, cart(None), path="kustomization.yaml")


def test_an_image_keyed_by_another_repository_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="maps to an image of"):
        pin("a: b\n", {WEB: ImageRef(CART, CART_DIGEST)}, path="d.yaml")


@pytest.mark.parametrize(
    ("tag", "written"),
    [("1.5", '"1.5"'), ("2024", '"2024"'), ("yes", '"yes"'), ("v2", "v2"), ("1.5.0", "1.5.0")],
)
def test_a_tag_yaml_would_read_as_a_non_string_is_double_quoted(tag: str, written: str) -> None:
    text = f"images:\n  - name: {CART}\n    newTag: 1.3.0\n"

    new, _ = pin(text, cart(tag), path="kustomization.yaml")

    assert new == f"images:\n  - name: {CART}\n    newTag: {written}\n    digest: {CART_DIGEST}\n"


# Properties

REPOSITORIES = [CART, WEB, WEB_WORKER, PORT_CART]
DIGESTS = {CART: CART_DIGEST, WEB: WEB_DIGEST, WEB_WORKER: WEB_DIGEST, PORT_CART: CART_DIGEST}


@st.composite
def image_values(draw: st.DrawFn, repository: str) -> str:
    reference = draw(
        st.sampled_from(
            [
                f"{repository}:1.3.0",
                repository,
                f"{repository}@{OLD_DIGEST}",
                f"{repository}:1.3.0@{OLD_DIGEST}",
                f"{repository}:v1.4.2@{DIGESTS[repository]}",  # pinned already
            ]
        )
    )
    quote = draw(st.sampled_from(["", "'", '"']))
    return f"{quote}{reference}{quote}"


@st.composite
def container_manifests(draw: st.DrawFn) -> tuple[list[str], list[str | None]]:
    """Lines of a multi-document manifest, and for each line the repository of its site."""
    lines: list[tuple[str, str | None]] = []
    for number in range(draw(st.integers(1, 3))):
        if number:
            lines += [(draw(st.sampled_from(["---", "--- # next", "..."])), None)]
            if lines[-1][0] == "...":
                lines += [("---", None)]
        noise = draw(st.sampled_from(REPOSITORIES))
        lines += [
            ("apiVersion: apps/v1", None),
            ("kind: Deployment", None),
            ("metadata:", None),
            (f"  annotations: {{previous: '{noise}:1.2.9'}}", None),
            ("spec:", None),
            ("  template:", None),
            ("    spec:", None),
            (draw(st.sampled_from(["      containers:", "      initContainers:"])), None),
        ]
        for index in range(draw(st.integers(1, 3))):
            repository = draw(st.sampled_from(REPOSITORIES))
            value = draw(image_values(repository))
            comment = draw(st.sampled_from(["", "  # main", f" # {noise}:0.9"]))
            if draw(st.booleans()):
                lines += [(f"        - {{name: c{index}, image: {value}}}{comment}", repository)]
            else:
                lines += [(f"        - name: c{index}{comment}", None)]
                lines += [(f"          image: {value}{comment}", repository)]
                lines += [
                    ("          env: [{name: PREVIOUS, value: " + f"'{noise}:1.2.9'}}]", None)
                ]
            if draw(st.booleans()):
                lines += [("", None), (f"        # image: {noise}:1.2.9", None)]
    return [text for text, _ in lines], [repository for _, repository in lines]


def _manifest_text(lines: list[str], eol: str, final_eol: bool) -> str:
    return eol.join(lines) + (eol if final_eol else "")


def _pinned_repositories(draw_from: st.DataObject) -> dict[str, ImageRef]:
    repositories = draw_from.draw(st.sets(st.sampled_from(REPOSITORIES), min_size=1))
    tag = draw_from.draw(st.sampled_from([None, "v1.4.2", "1.5"]))
    return {repo: ImageRef(repo, DIGESTS[repo], tag) for repo in repositories}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    manifest=container_manifests(),
    eol=st.sampled_from(["\n", "\r\n"]),
    final_eol=st.booleans(),
    data=st.data(),
)
def test_pin_changes_only_lines_that_hold_a_site(
    manifest: tuple[list[str], list[str | None]], eol: str, final_eol: bool, data: st.DataObject
) -> None:
    lines, repositories = manifest
    text = _manifest_text(lines, eol, final_eol)
    images = _pinned_repositories(data)

    new, changes = pin(text, images, path="deploy/all.yaml")

    old_lines, new_lines = text.split(eol), new.split(eol)
    repositories += [None] * final_eol  # the empty "line" after the final line ending
    assert len(new_lines) == len(old_lines)
    for old_line, new_line, repository in zip(old_lines, new_lines, repositories, strict=True):
        if repository not in images or images[repository].digest in old_line:
            assert new_line == old_line
        else:
            assert new_line != old_line
            assert str(images[repository]) in new_line
    assert len(changes) == sum(a != b for a, b in zip(old_lines, new_lines, strict=True))
    assert_minimal_diff(text, new)
    assert pin(new, images, path="deploy/all.yaml") == (new, [])


@st.composite
def kustomize_entries(draw: st.DrawFn) -> tuple[str, str]:
    """One images entry, block or flow style, and the repository it names."""
    repository = draw(st.sampled_from(REPOSITORIES))
    fields = [f"name: {repository}"]
    if draw(st.booleans()):
        fields = [f"name: app-{draw(st.integers(0, 9))}", f"newName: {repository}"]
    tag = draw(st.sampled_from([None, "1.3.0", "'1.3.0'", '"v2"', "latest"]))
    digest = draw(st.sampled_from([None, OLD_DIGEST, DIGESTS[repository], f'"{OLD_DIGEST}"']))
    extra = [f"newTag: {tag}"] * (tag is not None) + [f"digest: {digest}"] * (digest is not None)
    fields += draw(st.permutations(extra))
    if draw(st.booleans()):
        return "  - {" + ", ".join(draw(st.permutations(fields))) + "}", repository
    comments = draw(st.lists(st.sampled_from(["  # tag set by hand", ""]), min_size=len(fields)))
    body = [f"{field}{comment}" for field, comment in zip(fields, comments, strict=False)]
    return "  - " + "\n    ".join(body), repository


@settings(max_examples=150, deadline=None)
@given(
    entries=st.lists(kustomize_entries(), min_size=1, max_size=4),
    eol=st.sampled_from(["\n", "\r\n"]),
    final_eol=st.booleans(),
    data=st.data(),
)
def test_kustomize_pins_only_its_entries(
    entries: list[tuple[str, str]], eol: str, final_eol: bool, data: st.DataObject
) -> None:
    lines = ["# overlay", "resources: [../../base]", "images:"] + [e for e, _ in entries]
    text = _manifest_text("\n".join(lines).split("\n"), eol, final_eol)
    images = _pinned_repositories(data)
    others = [repo for repo in REPOSITORIES if repo not in images]
    path = "overlays/dev/kustomization.yaml"

    new, changes = pin(text, images, path=path)

    assert_minimal_diff(text, new)
    assert find_sites(new, others, path=path) == find_sites(text, others, path=path)
    for site in find_sites(new, images.keys(), path=path):
        image = images[site.repository]
        assert site.digest == image.digest
        assert site.image.endswith(f"@{image.digest}")
    assert new.count("\n") == new.count(eol)  # every line ending is the file's
    assert pin(new, images, path=path) == (new, [])
    assert len(changes) <= len(entries)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab:-[]{}&*!|>'\"#\n\t ,?%@`.\\", max_size=120))
def test_any_text_either_reads_or_is_a_manifest_error(text: str) -> None:
    try:
        find_sites("apiVersion: v1\nkind: Pod\n" + text, [CART], path="x.yaml")
    except ManifestError as err:
        assert str(err).startswith("x.yaml: line ")
        assert "\n" not in str(err)


# Documents read one by one


def read_whole(text: str) -> str:
    """`text` behind a directive: the stream is then composed whole, not document by document."""
    return "%YAML 1.2\n---\n" + text


SPLITTABLE = [name for name in GOLDEN if not read(f"{name}.yaml").startswith(("%", "\ufeff"))]


@pytest.mark.parametrize("name", SPLITTABLE)
@pytest.mark.parametrize("suffix", [".yaml", ".expected.yaml"])
def test_documents_read_one_by_one_find_what_the_whole_stream_has(name: str, suffix: str) -> None:
    path, images = GOLDEN[name]
    text = read(f"{name}{suffix}")
    whole = find_sites(read_whole(text), images.keys(), path=path)
    assert find_sites(text, images.keys(), path=path) == whole


def test_a_big_stream_is_pinned_in_the_two_documents_that_name_the_image() -> None:
    neighbour = read("rendered-neighbours.yaml").replace("/cart:", "/cart-web:")
    target = read("deployment-comments.yaml")
    stream = "---\n".join([neighbour] * 200 + [target] + [neighbour] * 200 + [target])
    new, changes = pin(stream, cart(), path="rendered/all.yaml")
    assert len(stream) > 400_000
    assert len(changes) == 2 * len(find_sites(target, [CART], path="t"))
    pairs = zip(stream.splitlines(), new.splitlines(), strict=True)
    changed = [old for old, line in pairs if old != line]
    assert len(changed) == len(changes) and all("image:" in line for line in changed)
    assert_minimal_diff(stream, new)


def test_a_line_starting_with_three_dashes_ends_a_document_even_in_a_quoted_scalar() -> None:
    # Malformed YAML (the spec forbids such a line there); kubectl too splits a stream at such
    # lines before parsing: the document that names the image stays readable.
    broken = 'kind: ConfigMap\ndata:\n  a: "x\n'
    [site] = find_sites(broken + "---\n" + read("deployment-comments.yaml"), [CART], path="d")
    assert site.image.startswith(CART)
    # The broken document itself, where it names the image, is reported with its line.
    with pytest.raises(ManifestError, match=r"^d: line \d+: "):
        find_sites(broken.replace('"x', f'"{CART}:1') + "---\nkind: X\n", [CART], path="d")


def test_errors_name_the_line_in_the_whole_file() -> None:
    good = read("deployment-comments.yaml")
    bad = f"apiVersion: v1\nkind: Pod\nspec: {{containers: [{{image: {CART}:1}}\n"
    text = good + "---\n" + bad
    whole = read_whole(text)
    with pytest.raises(ManifestError) as split_error:
        find_sites(text, [CART], path="d.yaml")
    with pytest.raises(ManifestError) as whole_error:
        find_sites(whole, [CART], path="d.yaml")
    line = int(str(whole_error.value).split(": line ")[1].split(":")[0])
    assert str(split_error.value) == str(whole_error.value).replace(
        f"line {line}", f"line {line - 2}"
    )


# The two parsers behind _compose


def _shape(node: Node, seen: set[int] | None = None, *, key: bool = False) -> object:
    """A node tree as plain data: kind, value, style, marks (index, line, column).

    Left out, as the promoter reads neither: the resolved tag of a value (only keys must be
    plain strings; under `%YAML 1.1` the pure parser makes `yes` a bool), and the line and
    column of a collection's end (at the end of a file without a final line break, libyaml
    puts it on the next line); its index is kept.
    """
    seen = set() if seen is None else seen
    if id(node) in seen:
        return ("alias", node.start_mark.index)
    seen.add(id(node))
    start = (node.start_mark.index, node.start_mark.line, node.start_mark.column)
    if isinstance(node, ScalarNode):
        end = (node.end_mark.index, node.end_mark.line, node.end_mark.column)
        tag = node.tag if key else None
        return ("scalar", tag, node.value, node.style or None, start, end)
    if isinstance(node, SequenceNode):
        items = [_shape(n, seen) for n in node.value]
        return ("seq", bool(node.flow_style), start, node.end_mark.index, items)
    assert isinstance(node, MappingNode)
    pairs = [(_shape(k, seen, key=True), _shape(v, seen)) for k, v in node.value]
    return ("map", bool(node.flow_style), start, node.end_mark.index, pairs)


NON_ASCII = [
    "# café ☕ 日本語 🚀\nimage: reg.io/apps/web:1  # ← é\nname: 'Größe'\n",
    'a: "ü\\u00e9\\n"\nb: [é, {c: ñ}]\nimage: reg.io/apps/web:1\n',
    "k: |\n  multi 🚀\n  line é\nimage: reg.io/apps/web:1\r\n",
]


@pytest.mark.parametrize(
    "text",
    [read(p.name) for p in sorted(DATA.glob("*.yaml"))] + NON_ASCII,
    ids=[p.name for p in sorted(DATA.glob("*.yaml"))]
    + ["non-ascii-1", "non-ascii-2", "non-ascii-3"],
)
def test_libyaml_and_the_pure_parser_give_the_same_nodes_and_marks(text: str) -> None:
    assert YAML(typ="safe", pure=False).Parser.__module__.startswith("ruamel.yaml.clib")
    pure = list(YAML(typ="rt").compose_all(text))
    try:
        fast = list(YAML(typ="safe", pure=False).compose_all(text))
    except YAMLError:
        return  # libyaml reads YAML 1.1 (`{image: a:1}` is 1.2): the pure parser read it above
    assert [_shape(d) for d in fast] == [_shape(d) for d in pure]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (f'kind: Pod\nspec:\n  containers:\n    - image: "{CART}\\U0011FFFF"\n', 4),
        (f'kind: Pod\nx: "\\UFFFFFFFF"\nspec: {{containers: [{{image: {CART}:1}}]}}\n', 2),
        (f"%YAML 1.3\n---\nkind: Pod\nspec: {{containers: [{{image: '{CART}:1'}}]}}\n", 1),
    ],
)
def test_text_the_pure_parser_cannot_read_is_refused_with_its_line(text: str, line: int) -> None:
    with pytest.raises(ManifestError, match=rf"^d\.yaml: line {line}: "):
        find_sites(text, [CART], path="d.yaml")


@pytest.mark.parametrize(
    ("key", "found"),
    [
        ("image", True),
        ('"image"', True),
        ("'image'", True),
        ("!!str image", True),
        ("? image\n      ", True),
        ("1", False),
    ],
)
def test_a_key_is_read_as_yaml_reads_it(key: str, found: bool) -> None:
    # Plain scalars are composed without resolving their type; a key is resolved when read.
    text = f"apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - {key}: {CART}:1\n"
    assert bool(find_sites(text, [CART], path="p.yaml")) is found


def test_keys_that_are_not_strings_are_neither_fields_nor_duplicates() -> None:
    text = (
        "apiVersion: v1\nkind: Pod\n1: a\n1: b\nnull: x\ntrue: y\n"
        f"spec:\n  containers:\n    - image: {CART}:1\n"
    )
    assert [s.image for s in find_sites(text, [CART], path="p.yaml")] == [f"{CART}:1"]
    with pytest.raises(ManifestError, match="duplicate key 'spec'"):
        find_sites(text + "spec: {}\n", [CART], path="p.yaml")
