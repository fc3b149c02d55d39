"""One file read for several repositories, as a manifest for some and as Helm values for others
(promoter.pinning; each case a survivor of its mutation run, docs/TESTING.md)."""

from __future__ import annotations

from promoter.images import ImageRef
from promoter.pinning import FileSites, helm_targets
from promoter.policy import HelmTarget, Policy

from .conftest import digest_of

WEB = "europe-west1-docker.pkg.dev/demo-shop/apps/web"
CART = "europe-west1-docker.pkg.dev/demo-shop/apps/cart"
# A checked-in Pod whose file also holds values a chart reads: `web` is a container's image,
# `cart` is named by a `helm:` entry (its key `cart`).
BOTH = f"""\
apiVersion: v1
kind: Pod
spec:
  containers:
    - name: web
      image: {WEB}:1
cart:
  repository: {CART}
  digest: old
"""


def test_the_values_are_read_again_after_the_manifest_edit_moved_the_text():
    read = FileSites.read(BOTH, [WEB, CART], path="p.yaml", helm={CART: (HelmTarget("*", "cart"),)})
    assert [s.repository for s in read.sites] == [WEB, CART]
    images = {WEB: ImageRef(WEB, digest_of(1), "1"), CART: ImageRef(CART, digest_of(2), "2")}
    text, changes = read.pin(images, text=BOTH)
    assert text == BOTH.replace(f"{WEB}:1", f"{WEB}:1@{digest_of(1)}").replace(
        "digest: old", f"digest: {digest_of(2)}"
    )
    assert [c.repository for c in changes] == [WEB, CART]


def test_a_repositorys_helm_entries_are_its_own():
    policy = Policy.from_yaml(
        f"""\
images:
  - repository: {WEB}
    helm: [{{path: charts/web/*.yaml, key: web}}]
  - repository: {CART}
    helm: [{{path: "charts/**", key: cart}}, {{path: charts/cart/values.yaml, key: cart2}}]
"""
    )
    assert helm_targets(policy, "charts/cart/values.yaml", [CART]) == {
        CART: (HelmTarget("charts/**", "cart"), HelmTarget("charts/cart/values.yaml", "cart2"))
    }
    assert helm_targets(policy, "charts/web/values.yaml", [CART, WEB]) == {
        CART: (HelmTarget("charts/**", "cart"),),
        WEB: (HelmTarget("charts/web/*.yaml", "web"),),
    }
    # `cart` sorts before `web`: web's entry is not cart's, nor the other way round
    assert helm_targets(policy, "charts/web/values.yaml", [WEB]) == {
        WEB: (HelmTarget("charts/web/*.yaml", "web"),)
    }
    assert helm_targets(policy, "other/values.yaml", [CART, WEB]) == {}
