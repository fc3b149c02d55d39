"""Which keys are fields, which tags need quotes, and where a missing value goes when ruamel's own
parser read the file (promoter.yamledits; each a survivor of its mutation run, docs/TESTING.md)."""

from __future__ import annotations

import pytest
from ruamel.yaml.error import YAMLError

from promoter.errors import ManifestError
from promoter.images import ImageRef
from promoter.manifests import find_sites, pin
from promoter.yamldocs import _fast_compose

from .test_helm import CART, DIGEST
from .test_helm import pin as pin_values

WEB = "europe-west1-docker.pkg.dev/demo-shop/apps/web"
OLD = "sha256:" + "1" * 64
NEW = "sha256:" + "2" * 64


def pod(key: str) -> str:
    head = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: a\n"
    return f"{head}      {key}: {WEB}@{OLD}\n"


@pytest.mark.parametrize(
    ("key", "is_field"),
    [
        ("image", True),
        ('"image"', True),
        ("!!str image", True),  # tagged a string
        ("!!timestamp image", False),  # tagged otherwise: not the `image` field
        ("!!binary image", False),
        ("!!int image", False),
    ],
)
def test_a_key_is_a_field_when_it_is_a_string(key, is_field):
    assert bool(find_sites(pod(key), [WEB], path="p.yaml")) is is_field


def test_keys_are_read_as_yaml_1_2_reads_them_so_yes_twice_is_a_duplicate():
    """`yes` is a string key in YAML 1.2 (a boolean in 1.1): given twice, the file is refused."""
    twice = pod("image").replace("    - name: a\n", "    - name: a\n      yes: 1\n      yes: 2\n")
    with pytest.raises(ManifestError, match=r"p\.yaml: line 7: duplicate key 'yes'"):
        find_sites(twice, [WEB], path="p.yaml")


@pytest.mark.parametrize("tag", ["0o17", "1_000", "yes", "017", "1e3"])
def test_a_tag_that_yaml_1_1_or_1_2_reads_as_no_string_is_quoted(tag):
    kustomization = (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"images:\n  - name: {WEB}\n    newTag: old\n"
    )
    text, _ = pin(kustomization, {WEB: ImageRef(WEB, NEW, tag)}, path="kustomization.yaml")
    assert f'    newTag: "{tag}"\n' in text


def test_an_empty_digest_in_a_file_only_ruamels_parser_reads_is_filled_after_its_colon():
    """libyaml refuses `a:1` in a flow mapping (valid YAML 1.2): ruamel's parser reads the file,
    and marks the missing value at the next token, on the next line."""
    values = f"image:\n  repository: {CART}\n  digest:\n  tag: '1'\nother: {{x: a:1}}\n"
    with pytest.raises(YAMLError):  # the premise: libyaml refuses it
        _fast_compose(values)
    assert pin_values(values) == values.replace("  digest:\n", f"  digest: {DIGEST}\n")
    # As libyaml's reading does: right after the colon, the blanks and comment after it kept.
    commented = values.replace("  digest:\n", "  digest:   # set by the promoter\n")
    assert pin_values(commented) == commented.replace(":   #", f": {DIGEST}   #")
