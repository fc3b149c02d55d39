"""promoter.yaml: parsing, validation messages, and what each rule allows."""

from __future__ import annotations

import re

import pytest

from promoter.errors import ConfigError
from promoter.policy import HelmTarget, Policy

from .conftest import DATA, WEB

WORKER = "registry.internal:5000/team/worker"


def load(name: str) -> Policy:
    return Policy.from_yaml((DATA / "policies" / name).read_text(), path="promoter.yaml")


def test_full_policy_parses():
    policy = load("full.yaml")
    web_rules = policy.rules_for(WEB, "main")
    assert web_rules is not None
    [web] = web_rules
    assert web.allows_path("clusters/dev/a/b/deploy.yaml")
    assert web.allows_path("clusters/staging/deploy.yaml")
    assert not web.allows_path("clusters/staging/nested/deploy.yaml")
    assert not web.allows_path("clusters/prod/deploy.yaml")
    assert policy.rules_for(WEB, "release/2.1") == (web,)
    assert policy.rules_for(WEB, "feature/x") == ()
    assert policy.rules_for(WEB, None) == ()
    worker_rules = policy.rules_for(WORKER, None)
    assert worker_rules is not None
    [worker] = worker_rules
    assert worker.allows_path("anything/at/all.yaml")


def test_unlisted_repository_is_not_promoted():
    assert (
        load("full.yaml").rules_for("europe-west1-docker.pkg.dev/demo-shop/apps/web2", "main") == ()
    )


@pytest.mark.parametrize("name", ["no-images.yaml"])
def test_without_images_list_everything_is_promoted(name):
    assert load(name).rules_for(WEB, None) is None
    assert Policy.from_yaml("").rules_for(WEB, "x") is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("unknown-top-key.yaml", "promoter.yaml: unknown key 'image'"),
        ("unknown-rule-key.yaml", "promoter.yaml: images[0]: unknown key 'branch'"),
        ("wrong-type-paths.yaml", "promoter.yaml: images[0].paths: expected a list"),
        (
            "tagged-repository.yaml",
            "promoter.yaml: images[0].repository: expected a repository without tag",
        ),
        ("escaping-path.yaml", "promoter.yaml: images[0].paths: '../outside/**' must stay inside"),
        ("duplicate-keys.yaml", "promoter.yaml: not valid YAML"),
    ],
)
def test_bad_policy_names_file_and_key(name, expected):
    with pytest.raises(ConfigError) as raised:
        load(name)
    assert str(raised.value).startswith(expected)
    assert "\n" not in str(raised.value)


def test_policy_of_the_wrong_shape_is_a_config_error():
    for text in ["- a\n- b\n", "images: 3\n", "images:\n  - 3\n", "images:\n  - repository: 3\n"]:
        with pytest.raises(ConfigError):
            Policy.from_yaml(text)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("paths: [5]", "images[0].paths: expected a list of non-empty strings"),
        ('branches: ["main", 7]', "images[0].branches: expected a list of non-empty strings"),
        ('paths: [""]', "images[0].paths: expected a list of non-empty strings"),
    ],
)
def test_lists_hold_non_empty_strings_only(rule, expected):
    with pytest.raises(ConfigError, match=rf"^promoter.yaml: {re.escape(expected)}$"):
        Policy.from_yaml(f"images:\n  - repository: {WEB}\n    {rule}\n")


@pytest.mark.parametrize("repository", ["Not/An/Image", "web app", "registry.io/web:"])
def test_a_repository_that_is_no_image_reference_names_the_key(repository):
    with pytest.raises(ConfigError, match=r"^promoter.yaml: images\[0\]\.repository: expected"):
        Policy.from_yaml(f'images:\n  - repository: "{repository}"\n')


def test_trust_rules_parse():
    policy = Policy.from_yaml(
        "trust:\n  verify: cloudbuild\n  projects: [demo-shop]\n"
        "  triggers: [web-main, 0f3c]\n  requireProvenance: true\n"
    )
    assert policy.rules is None
    assert (policy.trust.verify, policy.trust.projects, policy.trust.triggers) == (
        "cloudbuild",
        ("demo-shop",),
        ("web-main", "0f3c"),
    )
    assert policy.trust.require_provenance is True
    assert Policy.from_yaml("trust: {}\n").trust == Policy().trust


@pytest.mark.parametrize(
    "text",
    [
        "images:\n",
        "images:\n  # - repository: europe-west1-docker.pkg.dev/demo-shop/apps/web\n",
        "images: null\n",
        "images: []\n",
    ],
)
def test_an_images_key_without_entries_is_refused_not_read_as_every_image(text):
    with pytest.raises(ConfigError, match=r"^promoter\.yaml: images: has no entries \(to promote"):
        Policy.from_yaml(text)


@pytest.mark.parametrize(
    "text",
    [
        "%YAML 1.3\n---\nimages: []\n",
        'images:\n  - repository: "\\U0011FFFF"\n',
        'trust:\n  projects: ["\\UFFFFFFFF"]\n',
    ],
)
def test_text_the_parser_fails_on_is_a_config_error(text):
    with pytest.raises(ConfigError, match=r"^promoter\.yaml: not readable YAML: "):
        Policy.from_yaml(text)


@pytest.mark.parametrize(
    ("trust", "expected"),
    [
        ("  verifiy: cloudbuild", "trust: unknown key 'verifiy'"),
        ("  verify: gitlab", "trust.verify: expected cloudbuild, got 'gitlab'"),
        ("  projects: demo-shop", "trust.projects: expected a list of non-empty strings"),
        ("  triggers: [1]", "trust.triggers: expected a list of non-empty strings"),
        ("  requireProvenance: yes please", "trust.requireProvenance: expected true or false"),
    ],
)
def test_bad_trust_rules_name_the_key(trust, expected):
    with pytest.raises(ConfigError) as raised:
        Policy.from_yaml(f"trust:\n{trust}\n")
    assert str(raised.value).startswith(f"promoter.yaml: {expected}")


def test_trust_restricts_nothing_it_does_not_name():
    for policy in (Policy(), Policy.from_yaml("trust:\n  projects: [demo-shop]\n")):
        assert policy.trust.require_provenance is False
        assert policy.trust.verify is None and policy.trust.triggers == ()


def test_helm_entries_parse_with_digest_as_the_default_field():
    policy = Policy.from_yaml(
        f"images:\n  - repository: {WEB}\n    paths: [clusters/**]\n    helm:\n"
        "      - path: charts/web/values*.yaml\n        key: image\n"
        "      - {path: 'charts/*/values.yaml', key: app.web.image, field: imageDigest}\n"
    )
    [rule] = policy.rules_for(WEB, "main") or ()
    assert rule.helm == (
        HelmTarget("charts/web/values*.yaml", "image", "digest"),
        HelmTarget("charts/*/values.yaml", "app.web.image", "imageDigest"),
    )
    assert rule.helm_targets("charts/web/values-prod.yaml") == rule.helm[:1]
    assert rule.helm_targets("charts/web/values.yaml") == rule.helm
    assert rule.helm_targets("charts/web/ci/values.yaml") == ()
    assert not rule.allows_path("charts/web/values.yaml")  # `paths:` is for manifests


@pytest.mark.parametrize(
    ("helm", "expected"),
    [
        ("{path: a.yaml, key: image}", "helm: expected a list of entries with path and key"),
        ("[{path: a.yaml, key: image, feild: x}]", "helm[0]: unknown key 'feild'"),
        ("[image]", "helm[0]: expected a mapping"),
        ("[{key: image}]", "helm[0].path: expected a glob of values files (string)"),
        ("[{path: '../x/values.yaml', key: image}]", "helm[0].path: '../x/values.yaml' must stay"),
        ("[{path: /values.yaml, key: image}]", "helm[0].path: '/values.yaml' must stay inside"),
        ("[{path: ./values.yaml, key: image}]", "helm[0].path: './values.yaml' can never match"),
        ("[{path: charts/, key: image}]", "helm[0].path: 'charts/' can never match a file"),
        ("[{path: values.tpl, key: image}]", "helm[0].path: 'values.tpl': values files are read"),
        ("[{path: a.yaml}]", "helm[0].key: expected a dotted path of keys"),
        ("[{path: a.yaml, key: ''}]", "helm[0].key: expected a dotted path of keys"),
        ("[{path: a.yaml, key: image.}]", "helm[0].key: expected a dotted path of keys"),
        ("[{path: a.yaml, key: 3}]", "helm[0].key: expected a dotted path of keys"),
        ("[{path: a.yaml, key: image, field: ''}]", "helm[0].field: expected a plain key name"),
        ("[{path: a.yaml, key: image, field: a.b}]", "helm[0].field: expected a plain key name"),
        ("[{path: a.yaml, key: image, field: [x]}]", "helm[0].field: expected a plain key name"),
        (
            "[{path: a.yaml, key: image, field: repository}]",
            "helm[0].field: expected a plain key name other than repository",
        ),
    ],
)
def test_bad_helm_entries_name_the_key(helm, expected):
    with pytest.raises(ConfigError) as raised:
        Policy.from_yaml(f"images:\n  - repository: {WEB}\n    helm: {helm}\n")
    assert str(raised.value).startswith(f"promoter.yaml: images[0].{expected}")
