"""Helm values targets: golden edits of `<key>.<field>`, the plan around them, and the CLI on a
real bare repo."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from promoter import ledger as ledger_file
from promoter.errors import ManifestError
from promoter.events import from_envelope
from promoter.helmvalues import HelmValues
from promoter.images import ImageRef
from promoter.ledger import Ledger
from promoter.plan import Plan, plan
from promoter.policy import HelmTarget, Policy

from .conftest import build, count_commits, deployment, digest_of, git, promote_cli, show

DATA = Path(__file__).parent / "data" / "helm"
CART = "europe-west1-docker.pkg.dev/demo-shop/apps/cart"
DIGEST = digest_of("cart-2")
IMAGE = "image"

# name -> (key, field) of the one `helm:` entry the file is pinned through
GOLDEN = {
    "old-digest-quoted": (IMAGE, "digest"),
    "empty-digest": (IMAGE, "digest"),
    "empty-quoted-digest": (IMAGE, "digest"),
    "null-digest": (IMAGE, "digest"),
    "missing-digest": (IMAGE, "digest"),
    "flow-mapping": (IMAGE, "digest"),
    "crlf-no-final-newline": (IMAGE, "digest"),
    "nested-key": ("app.cart.image", "digest"),
    "other-field-name": ("cart", "imageDigest"),
}


def read(text: str, *targets: HelmTarget, path: str = "charts/cart/values.yaml") -> HelmValues:
    return HelmValues.read(text, {CART: targets or (HelmTarget("charts/**", IMAGE),)}, path=path)


def pin(text: str, *targets: HelmTarget, digest: str = DIGEST) -> str:
    new_text, _ = read(text, *targets).pin({CART: ImageRef(CART, digest, "4be1a9c")})
    return new_text


def changed_lines(old: str, new: str) -> tuple[list[str], list[str]]:
    """The lines taken out and put in (without their line endings)."""
    diff = list(difflib.ndiff(old.splitlines(), new.splitlines()))
    return [d[2:] for d in diff if d[0] == "-"], [d[2:] for d in diff if d[0] == "+"]


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_edit_is_exactly_the_digest(name):
    key, field = GOLDEN[name]
    source = (DATA / f"{name}.yaml").read_bytes().decode()
    expected = (DATA / f"{name}.expected.yaml").read_bytes().decode()

    new_text = pin(source, HelmTarget("charts/**", key, field))

    assert new_text == expected
    removed, added = changed_lines(source, new_text)
    assert len(added) == 1 and DIGEST in added[0] and f"{field}:" in added[0]
    assert len(removed) <= 1 and all(f"{field}:" in line or "{" in line for line in removed)


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_pinning_the_pinned_text_again_changes_nothing(name):
    key, field = GOLDEN[name]
    target = HelmTarget("charts/**", key, field)
    expected = (DATA / f"{name}.expected.yaml").read_bytes().decode()

    new_text, changes = read(expected, target).pin({CART: ImageRef(CART, DIGEST)})

    assert (new_text, changes) == (expected, [])
    assert [s.digest for s in read(expected, target).sites] == [DIGEST]


def test_the_tag_is_left_alone_and_the_quotes_stay():
    source = (DATA / "old-digest-quoted.yaml").read_text()
    new_text = pin(source)
    assert '  tag: "1.4.0"            # charts render' in new_text
    assert f'  digest: "{DIGEST}"\n' in new_text


def test_a_change_reads_as_references_for_the_audit_trail():
    source = (DATA / "old-digest-quoted.yaml").read_text()
    [site] = read(source).sites
    _, [change] = read(source).pin({CART: ImageRef(CART, DIGEST, "4be1a9c")})
    assert (change.old, change.new) == (f"{CART}@{site.digest}", f"{CART}@{DIGEST}")
    _, [added] = read("image:\n  repository: " + CART + "\n").pin({CART: ImageRef(CART, DIGEST)})
    assert (added.old, added.new) == (CART, f"{CART}@{DIGEST}")


@pytest.mark.parametrize(
    "text",
    [
        f"image:\n  repository: {CART}-legacy\n  digest: ''\n",  # another repository
        f"images:\n  repository: {CART}\n",  # the key is not there
        f"image: {CART}:1.0\n",  # the key holds a string, not a mapping
        f"image:\n  name: {CART}\n",  # no `repository` in the mapping
        f"app:\n  image:\n    repository: {CART}\n",  # nested, but the key says `image`
        f"- image:\n    repository: {CART}\n",  # a list at the top
    ],
)
def test_no_site_where_the_key_or_repository_does_not_match(text):
    values = read(text)
    assert values.sites == []
    assert values.pin({CART: ImageRef(CART, DIGEST)}) == (text, [])
    assert values.missing == [f"charts/cart/values.yaml: no image.repository equal to {CART}"]


def test_every_document_and_every_key_is_pinned():
    text = (
        f"image:\n  repository: {CART}\n---\n"
        f"# prod\nimage:\n  repository: {CART}\n  digest: ''\n"
        f"worker:\n  image: {{repository: {CART}}}\n"
    )
    new_text = pin(text, HelmTarget("charts/**", IMAGE), HelmTarget("charts/**", "worker.image"))
    assert new_text == (
        f"image:\n  repository: {CART}\n  digest: {DIGEST}\n---\n"
        f"# prod\nimage:\n  repository: {CART}\n  digest: '{DIGEST}'\n"
        f'worker:\n  image: {{repository: {CART}, digest: "{DIGEST}"}}\n'
    )


def test_the_same_entry_given_twice_is_one_edit():
    text = f"image:\n  repository: {CART}\n"
    target = HelmTarget("charts/**", IMAGE)
    assert pin(text, target, target) == f"image:\n  repository: {CART}\n  digest: {DIGEST}\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"image: {{repository: {CART}, digest}}\n",
            f'image: {{repository: {CART}, digest: "{DIGEST}"}}\n',
        ),
        (
            f"image: {{repository: {CART}, digest: }}\n",
            f'image: {{repository: {CART}, digest: "{DIGEST}"}}\n',
        ),
        (
            f"image: {{digest: sha256:{'0' * 64}, repository: {CART}}}\n",
            f'image: {{digest: "{DIGEST}", repository: {CART}}}\n',
        ),
        (
            f"image:\n  digest: ~\n  repository: {CART}\n",
            f"image:\n  digest: {DIGEST}\n  repository: {CART}\n",
        ),
    ],
)
def test_flow_mappings_get_a_quoted_digest(text, expected):
    assert pin(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"base: &img\n  repository: {CART}\nimage: *img\n",
            "values.yaml: line 3: image is reached through an alias; pin it by hand",
        ),
        (
            f"image:\n  repository: {CART}\n  digest: |\n    sha256:0\n",
            "values.yaml: line 3: image.digest must be on one line to be pinned",
        ),
        (
            f"image:\n  repository: {CART}\n  digest: {{}}\n",
            "values.yaml: line 3: image.digest is not a plain value; pin it by hand",
        ),
        (
            f"image:\n  repository: {CART}\n  resources:\n    cpu: 1\n",
            "values.yaml: line 3: cannot add a digest after a value that is not a one-line",
        ),
    ],
)
def test_what_cannot_be_pinned_safely_is_refused_with_its_line(text, expected):
    with pytest.raises(ManifestError) as raised:
        HelmValues.read(text, {CART: (HelmTarget("*", IMAGE),)}, path="values.yaml").pin(
            {CART: ImageRef(CART, DIGEST)}
        )
    assert str(raised.value).startswith(expected)


def test_an_alias_elsewhere_that_names_another_image_is_no_concern():
    text = f"other: &o\n  repository: {CART}-legacy\nsidecar: *o\nimage:\n  repository: {CART}\n"
    target = HelmTarget("*", "sidecar")
    values = HelmValues.read(text, {CART: (HelmTarget("*", IMAGE), target)}, path="v.yaml")
    assert len(values.sites) == 1


# The plan: policy, ledger and reasons around the values files.

POLICY = f"""\
images:
  - repository: {CART}
    paths: ["clusters/**"]
    helm:
      - path: charts/cart/values*.yaml
        key: image
"""
VALUES = f"""\
image:
  repository: {CART}
  tag: "1.4.0"
"""
PROD = f"""\
replicaCount: 3
image:
  repository: {CART}
  digest: "{digest_of("old")}"
"""
DEPLOYMENT = deployment(f"{CART}:1.4.0", name="cart")
FILES = {
    "charts/cart/values.yaml": VALUES,
    "charts/cart/values-prod.yaml": PROD,
    "clusters/prod/deployment.yaml": DEPLOYMENT,
    "apps/cart/deployment.yaml": DEPLOYMENT,  # outside `paths:`
}


def cart_build(seed: str, **fields: Any) -> dict[str, Any]:
    return build(image=CART, digest=digest_of(seed), **fields)


def apply(files: dict[str, str], body: dict[str, Any], policy: str = POLICY) -> Plan:
    ledger = Ledger.from_text(files.get(ledger_file.PATH))
    manifests = {p: t for p, t in files.items() if p != ledger_file.PATH}
    decided = plan(
        from_envelope(body), policy=Policy.from_yaml(policy), files=manifests, ledger=ledger
    )
    files.update(decided.files)
    return decided


def test_values_files_and_manifests_are_pinned_in_one_plan():
    files = dict(FILES)
    body = cart_build("new")
    decided = apply(files, body)

    assert decided.outcome == "promoted", decided.reason
    assert sorted(decided.files) == [
        ledger_file.PATH,
        "charts/cart/values-prod.yaml",
        "charts/cart/values.yaml",
        "clusters/prod/deployment.yaml",
    ]
    assert files["charts/cart/values.yaml"] == VALUES + f"  digest: {digest_of('new')}\n"
    assert files["charts/cart/values-prod.yaml"] == PROD.replace(digest_of("old"), digest_of("new"))
    assert files["apps/cart/deployment.yaml"] == DEPLOYMENT  # `paths:` still restricts manifests
    changes = {c.path: (c.old, c.new) for c in decided.changes}
    assert changes["charts/cart/values-prod.yaml"] == (
        f"{CART}@{digest_of('old')}",
        f"{CART}@{digest_of('new')}",
    )
    assert changes["charts/cart/values.yaml"] == (CART, f"{CART}@{digest_of('new')}")
    records = Ledger.from_text(files[ledger_file.PATH]).records
    assert records[("charts/cart/values.yaml", CART)].build_id == body["id"]
    assert records[("charts/cart/values-prod.yaml", CART)].digest == digest_of("new")


def test_redelivery_and_an_older_build_change_nothing():
    files = dict(FILES)
    newer = cart_build("new", create_time="2026-03-02T09:14:07Z")
    older = cart_build("older", create_time="2026-03-02T09:10:00Z")
    apply(files, newer)
    before = dict(files)

    assert apply(files, newer).outcome == "unchanged"
    assert apply(files, older).outcome == "unchanged"
    assert files == before


def test_a_values_file_is_a_target_only_through_helm():
    files = {"charts/cart/values.yaml": VALUES, "charts/cart/other.yaml": VALUES}
    decided = apply(files, cart_build("new"), policy=f"images:\n  - repository: {CART}\n")
    assert (decided.outcome, decided.reason) == ("ignored", f"no manifest references {CART}")
    decided = apply(files, cart_build("new"))
    assert sorted(decided.files) == [ledger_file.PATH, "charts/cart/values.yaml"]


def test_a_values_file_without_the_key_is_named_in_the_reason():
    files = {"charts/cart/values.yaml": f"cart:\n  repository: {CART}\n"}
    decided = apply(files, cart_build("new"))
    assert (decided.outcome, decided.warning) == ("ignored", True)
    assert decided.reason == (
        f"no manifest references {CART}; "
        f"charts/cart/values.yaml: no image.repository equal to {CART}"
    )


def test_an_unreadable_values_file_is_skipped_and_the_others_promoted():
    files = dict(FILES, **{"charts/cart/values.yaml": f"image:\n  repository: [{CART}\n"})
    decided = apply(files, cart_build("new"))
    assert (decided.outcome, decided.warning) == ("promoted", True)
    assert "; skipped charts/cart/values.yaml: line 3: " in decided.reason
    assert "charts/cart/values-prod.yaml" in decided.files


# End to end: the CLI on a real bare repo.


def promote(event: dict[str, Any], remote: Path, workdir: Path) -> dict[str, Any]:
    done = promote_cli(event, remote, workdir)
    assert (done.returncode, done.stderr) == (0, "")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_cli_pins_helm_values_on_a_real_repo(make_config_repo, workdir):
    remote = make_config_repo({"promoter.yaml": POLICY, **FILES}, source=None)
    newer = cart_build("new", create_time="2026-03-02T09:14:07Z")
    older = cart_build("older", create_time="2026-03-02T09:10:00Z")

    result = promote(newer, remote, workdir)

    assert result["outcome"] == "promoted", result["reason"]
    diff = git("--git-dir", remote, "diff", "-U0", "main~1", "main", "--", "charts")
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in "+++---"]
    assert changed == [
        f'-  digest: "{digest_of("old")}"',
        f'+  digest: "{digest_of("new")}"',
        f"+  digest: {digest_of('new')}",
    ]
    ledger = Ledger.from_text(show(remote, ledger_file.PATH)).records
    assert ledger[("charts/cart/values.yaml", CART)].build_id == newer["id"]
    body = git("--git-dir", remote, "log", "-1", "--format=%B")
    assert f"- charts/cart/values.yaml: cart -> cart@{digest_of('new')[:19]}\n" in body
    old_new = f"cart@{digest_of('old')[:19]} -> cart@{digest_of('new')[:19]}"
    assert f"- charts/cart/values-prod.yaml: {old_new}\n" in body
    commits = count_commits(remote)

    assert promote(newer, remote, workdir)["outcome"] == "unchanged"
    assert promote(older, remote, workdir)["outcome"] == "unchanged"
    assert count_commits(remote) == commits
    assert digest_of("new") in show(remote, "charts/cart/values.yaml")
    assert digest_of("older") not in show(remote, "charts/cart/values-prod.yaml")


def test_two_images_in_one_values_file_are_each_pinned():
    worker = "europe-west1-docker.pkg.dev/demo-shop/apps/cart-worker"
    text = f"image:\n  repository: {CART}\nworker:\n  image:\n    repository: {worker}\n"
    targets = {CART: (HelmTarget("*", IMAGE),), worker: (HelmTarget("*", "worker.image"),)}
    images = {CART: ImageRef(CART, DIGEST), worker: ImageRef(worker, digest_of("w"))}
    new_text, changes = HelmValues.read(text, targets, path="v.yaml").pin(images)
    assert new_text == (
        f"image:\n  repository: {CART}\n  digest: {DIGEST}\n"
        f"worker:\n  image:\n    repository: {worker}\n    digest: {digest_of('w')}\n"
    )
    assert [c.repository for c in changes] == [CART, worker]


# Property: whatever the layout, the pinned file reads as the old data with only the digest set.

_DIGESTS = ["", '""', "''", "null", "~", digest_of("old"), f'"{digest_of("old")}"']
_OTHER = {"tag": '"1.4.0"', "pullPolicy": "IfNotPresent", "port": "8080"}


@st.composite
def values_files(draw: st.DrawFn) -> str:
    flow = draw(st.booleans())
    pairs = [("repository", CART), *draw(st.lists(st.sampled_from(sorted(_OTHER.items()))))]
    digest = draw(st.none() | st.sampled_from(_DIGESTS))
    if digest is not None:
        pairs.append(("digest", digest))
    pairs = list(dict(draw(st.permutations(pairs))).items())
    if flow:
        body = ", ".join(f"{k}: {v}" for k, v in pairs)
        image = f"image: {{{body}}}\n"
    else:
        indent = " " * draw(st.sampled_from([2, 4]))
        comment = draw(st.sampled_from(["", "  # note", " #"]))
        image = "image:\n" + "".join(f"{indent}{k}: {v}{comment}\n" for k, v in pairs)
    before = draw(st.sampled_from(["", "# values\n", "replicaCount: 2\n", "---\n"]))
    after = draw(st.sampled_from(["", "\n# end\n", "service:\n  port: 80\n", "...\n"]))
    return before + image + after


@settings(max_examples=200, deadline=None)
@given(text=values_files())
def test_any_layout_reads_back_as_the_same_values_with_the_digest_set(text):
    new_text = pin(text)
    old_data = YAML(typ="safe", pure=True).load(text)
    new_data = YAML(typ="safe", pure=True).load(new_text)
    old_data["image"]["digest"] = DIGEST
    assert new_data == old_data
    assert YAML(typ="safe", pure=False).load(new_text) == new_data  # libyaml reads it too
    assert pin(new_text) == new_text


# Survivors of the helmvalues mutation run (docs/TESTING.md), each checked by applying it.


@pytest.mark.parametrize("null", ["null", "~", "", "''"])
def test_a_null_or_empty_digest_is_no_digest_in_the_audit_trail(null: str):
    values = read(f"image:\n  repository: {CART}\n  digest: {null}\n")
    _, [change] = values.pin({CART: ImageRef(CART, DIGEST)})
    assert (change.old, change.new) == (CART, f"{CART}@{DIGEST}")


def test_a_quoted_null_is_a_value_not_an_empty_digest():
    [site] = read(f"image:\n  repository: {CART}\n  digest: 'null'\n").sites
    assert site.digest == "null"


def test_another_repository_that_sorts_first_is_no_site():
    other = CART[:-1]  # .../apps/car, next to a comment naming the wanted one
    text = f"image:\n  repository: {other}\n  digest: ''\n# {CART}\n"
    assert read(text).sites == []


def test_a_digest_over_two_lines_is_refused():
    text = f'image:\n  repository: {CART}\n  digest: "sha256:\n    0"\n'
    with pytest.raises(ManifestError, match=r"image\.digest must be on one line to be pinned"):
        read(text).pin({CART: ImageRef(CART, DIGEST)})


def test_each_change_names_its_own_image_after_one_already_pinned():
    worker = "europe-west1-docker.pkg.dev/demo-shop/apps/cart-worker"
    text = (
        f"worker:\n  image:\n    repository: {worker}\n    digest: {digest_of('w')}\n"
        f"image:\n  repository: {CART}\n  digest: {digest_of('old')}\n"
    )
    targets = {CART: (HelmTarget("*", IMAGE),), worker: (HelmTarget("*", "worker.image"),)}
    images = {CART: ImageRef(CART, DIGEST), worker: ImageRef(worker, digest_of("w"))}
    new_text, [change] = HelmValues.read(text, targets, path="v.yaml").pin(images)
    assert new_text == text.replace(digest_of("old"), DIGEST)
    assert (change.repository, change.new) == (CART, f"{CART}@{DIGEST}")
