"""What is a target and what is not, and kustomize entries edited byte for byte at their edges
(each case a survivor of the manifests mutation run; docs/TESTING.md)."""

from __future__ import annotations

import pytest

from promoter.errors import ManifestError
from promoter.images import ImageRef
from promoter.manifests import find_sites, is_manifest, pin

WEB = "europe-west1-docker.pkg.dev/demo-shop/apps/web"
OLD = "sha256:" + "1" * 64
NEW = "sha256:" + "2" * 64


def web(tag: str | None = "1.2") -> dict[str, ImageRef]:
    return {WEB: ImageRef(WEB, NEW, tag)}


def test_only_kubernetes_objects_have_containers():
    pod_like = f"spec:\n  containers:\n    - name: a\n      image: {WEB}:1\n"
    assert find_sites(f"apiVersion: v1\nkind: Pod\n{pod_like}", [WEB], path="p.yaml")
    for head in ("kind: Pod\n", "apiVersion: v1\n", ""):
        assert find_sites(head + pod_like, [WEB], path="p.yaml") == [], head


def test_an_image_outside_a_containers_list_is_left_alone():
    task = (
        "apiVersion: tekton.dev/v1\nkind: Task\nspec:\n  steps:\n"
        f"    - name: build\n      image: {WEB}:1\n"
    )
    assert find_sites(task, [WEB], path="task.yaml") == []
    text, changes = pin(task, web(), path="task.yaml")
    assert (text, changes) == (task, [])


def test_an_image_that_is_no_scalar_is_not_a_site():
    pod = (
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n"
        f"    - name: a\n      image: [{WEB}]\n"
        f"    - name: b\n      image: {{ref: {WEB}}}\n"
        f"    - name: c\n      image: {WEB}@{OLD}\n"
    )
    [site] = find_sites(pod, [WEB], path="p.yaml")
    assert site.image == f"{WEB}@{OLD}"


def test_containers_after_an_alias_are_still_found():
    """The walk meets the aliased mapping twice; the containers after it count too."""
    pod = (
        "apiVersion: v1\nkind: List\n"
        "defaults: &d {labels: {app: web}}\n"
        "items:\n"
        "  - metadata: *d\n"
        f"    spec: {{containers: [{{name: a, image: '{WEB}@{OLD}'}}]}}\n"
        "  - metadata: *d\n"
        f"    spec: {{containers: [{{name: b, image: '{WEB}:2'}}]}}\n"
    )
    assert [s.image for s in find_sites(pod, [WEB], path="l.yaml")] == [
        f"{WEB}@{OLD}",
        f"{WEB}:2",
    ]


def test_a_site_already_pinned_does_not_stop_the_sites_after_it():
    pod = (
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n"
        f"    - name: a\n      image: {WEB}:1.2@{NEW}\n"
        f"    - name: b\n      image: {WEB}:1.1@{OLD}\n"
    )
    text, changes = pin(pod, web(), path="p.yaml")
    assert text == pod.replace(f"{WEB}:1.1@{OLD}", f"{WEB}:1.2@{NEW}")
    assert len(changes) == 1


KUSTOMIZATION = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n"


def test_a_kustomize_entry_naming_no_image_is_skipped():
    text = KUSTOMIZATION + f"  - newTag: '1'\n  - digest: {OLD}\n  - name: {WEB}\n    newTag: '1'\n"
    [site] = find_sites(text, [WEB], path="kustomization.yaml")
    assert site.image == f"{WEB}:1"


def test_a_kustomize_entry_with_a_field_that_is_no_scalar_is_not_a_site():
    text = KUSTOMIZATION + f"  - name: {WEB}\n    newTag: [1]\n"
    assert find_sites(text, [WEB], path="kustomization.yaml") == []


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        (f"  - name: {WEB}\n    newTag: *t\n", "newTag is an alias"),
        (f"  - name: {WEB}\n    newTag: |\n      1.1\n", "block scalar"),
    ],
)
def test_a_kustomize_field_that_cannot_be_edited_in_place_is_refused(entry: str, says: str):
    text = KUSTOMIZATION.replace("images:\n", "x: &t '1.1'\nimages:\n") + entry
    with pytest.raises(ManifestError, match=says):
        pin(text, web(), path="kustomization.yaml")


def test_a_new_tag_equal_to_the_builds_is_left_byte_for_byte():
    text = KUSTOMIZATION + f"  - name: {WEB}\n    newTag: 1.2\n    digest: {OLD}\n"
    new, _ = pin(text, web("1.2"), path="kustomization.yaml")
    assert new == text.replace(OLD, NEW)  # `1.2` stays plain: it was not changed


@pytest.mark.parametrize("crlf", [False, True])
def test_a_new_tag_on_the_last_line_without_a_line_ending_is_removed_with_its_line(crlf: bool):
    text = KUSTOMIZATION + f"  - name: {WEB}\n    digest: {OLD}\n    newTag: old"
    if crlf:
        text = text.replace("\n", "\r\n")
    new, _ = pin(text, web(None), path="kustomization.yaml")  # a build without a tag
    expected = KUSTOMIZATION + f"  - name: {WEB}\n    digest: {NEW}"
    assert new == (expected.replace("\n", "\r\n") if crlf else expected)


@pytest.mark.parametrize(
    ("path", "manifest"),
    [
        ("a/deploy.yaml", True),
        ("a/Deploy.YML", True),
        ("a/x.json", True),
        ("a/kustomization", False),
        ("Kustomization", True),
        ("a/README.md", False),
        ("a/yaml", False),
    ],
)
def test_which_files_are_manifests(path: str, manifest: bool):
    assert is_manifest(path) is manifest


@pytest.mark.parametrize("images", ["", "images: {}\n", "images: []\n"])
def test_a_kustomization_without_an_images_list_has_no_site(images: str):
    text = (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources: [deploy.yaml]  # runs {WEB}:1\n{images}"
    )
    assert find_sites(text, [WEB], path="kustomization.yaml") == []
