"""promoter.yaml's `environments:`, parsed strictly; build events land only in entry ones."""

from __future__ import annotations

import json

import pytest

from promoter.environments import ArgoApp, Environment
from promoter.errors import ConfigError
from promoter.policy import Policy

from .conftest import WEB, build, digest_of, promote_cli, show

EXAMPLE = """\
environments:
  - name: dev
    paths: ["clusters/dev/**"]
    argocd: {app: cart-dev, namespace: argocd}
  - name: prod
    paths: ["clusters/prod/**"]
    from: dev                 # gets what dev runs, never straight from a build
    auto: false
    requireHealthy: true
    soak: 1h30m
"""


def test_the_issues_example_parses():
    dev, prod = Policy.from_yaml(EXAMPLE).environments
    assert dev == Environment("dev", ("clusters/dev/**",), ArgoApp("cart-dev", "argocd"))
    assert prod == Environment(
        "prod", ("clusters/prod/**",), None, "dev", auto=False, require_healthy=True,
        soak_seconds=5400,
    )  # fmt: skip
    assert dev.covers("clusters/dev/a/b.yaml") and not dev.covers("clusters/prod/x.yaml")


def env(name: str, **fields: object) -> dict[str, object]:
    return {"name": name, "paths": [f"clusters/{name}/**"], **fields}


@pytest.mark.parametrize(
    ("environments", "expected"),
    [
        ([env("dev", colour="red")], "environments[0]: unknown key 'colour'"),
        ([env("dev"), env("prod", **{"from": "qa"})], "environments[1].from: no environment 'qa'"),
        (
            [env("a", **{"from": "b"}), env("b", **{"from": "a"})],
            "environments: `from` goes round in a cycle: a -> b -> a",
        ),
        ([env("dev"), env("dev")], "environments[1].name: 'dev' is named twice"),
        ([env("dev", **{"from": "dev"})], "environments[0].from: environment 'dev' cannot come"),
        (
            [env("dev"), env("prod", soak="soon", **{"from": "dev"})],
            "environments[1].soak: expected a duration like 30m",
        ),
        ([env("dev", requireHealthy=True)], "environments[0].requireHealthy: only for an"),
        (
            [env("dev"), env("prod", requireHealthy=True, **{"from": "dev"})],
            "environments[1].requireHealthy: environment 'dev' has no argocd app to ask",
        ),
        ([env("dev", auto="yes")], "environments[0].auto: expected true or false"),
        ([{"name": "dev"}], "environments[0].paths: required"),
        ([env("Prod")], "environments[0].name: expected a lowercase name"),
        ([env("dev", argocd={"name": "x"})], "environments[0].argocd: unknown key 'name'"),
        ([], "environments: expected a list of environments"),
    ],
)
def test_bad_environments_are_config_errors_naming_the_problem(environments, expected):
    text = json.dumps({"environments": environments})
    with pytest.raises(ConfigError) as raised:
        Policy.from_yaml(text)
    assert str(raised.value).startswith(f"promoter.yaml: {expected}"), str(raised.value)


def test_build_events_promote_only_into_entry_environments(make_config_repo, tmp_path):
    remote = make_config_repo({"promoter.yaml": EXAMPLE})
    prod_before = show(remote, "clusters/prod/deployment.yaml")
    done = promote_cli(build(digest=digest_of(1)), remote, tmp_path / "w")
    result = json.loads(done.stdout)
    assert result["outcome"] == "promoted", done.stderr
    assert {c["path"] for c in result["changes"]} == {
        "clusters/dev/deployment.yaml",
        "clusters/dev/kustomization.yaml",
    }
    assert result["reason"].endswith("; left 1 file(s) outside the entry environments")
    assert show(remote, "clusters/prod/deployment.yaml") == prod_before


def test_an_event_naming_only_later_environments_is_ignored_saying_why(make_config_repo, tmp_path):
    only_prod = EXAMPLE.replace('paths: ["clusters/dev/**"]', 'paths: ["apps/dev/**"]')
    remote = make_config_repo({"promoter.yaml": only_prod})
    done = promote_cli(build(image=WEB), remote, tmp_path / "w")
    result = json.loads(done.stdout)
    assert result["outcome"] == "ignored"
    assert result["reason"].startswith("builds promote only into dev (apps/dev/**), not into ")
    assert result["reason"].endswith("(promoter promote-env feeds the later environments)")


@pytest.mark.parametrize(
    ("soak", "seconds"),
    [("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("1d2h3m4s", 93784)],
)
def test_soak_durations_count_every_unit(soak: str, seconds: int):
    text = json.dumps({"environments": [env("dev"), env("prod", soak=soak, **{"from": "dev"})]})
    assert Policy.from_yaml(text).environments[1].soak_seconds == seconds


@pytest.mark.parametrize("soak", ["30mx", "x30m", "-1m", "0 30m", "1h 30m", "30", ""])
def test_a_soak_with_anything_besides_units_is_refused(soak: str):
    text = json.dumps({"environments": [env("dev"), env("prod", soak=soak, **{"from": "dev"})]})
    with pytest.raises(ConfigError, match=r"environments\[1\]\.soak: expected a duration"):
        Policy.from_yaml(text)


@pytest.mark.parametrize(
    ("argocd", "expected"),
    [
        ({"app": ""}, "environments[0].argocd.app: expected the Argo CD Application's name"),
        ({"app": 5}, "environments[0].argocd.app: expected the Argo CD Application's name"),
        ({"app": "a", "namespace": "Argo_CD"}, "environments[0].argocd.namespace: expected a"),
        ({"app": "a", "namespace": 5}, "environments[0].argocd.namespace: expected a"),
    ],
)
def test_an_argocd_app_needs_a_name_and_a_namespace_name(argocd: dict[str, object], expected: str):
    with pytest.raises(ConfigError) as raised:
        Policy.from_yaml(json.dumps({"environments": [env("dev", argocd=argocd)]}))
    assert str(raised.value).startswith(f"promoter.yaml: {expected}"), str(raised.value)


def test_an_environments_paths_are_checked_like_the_images_paths():
    bad = {"name": "dev", "paths": ["./clusters/dev/**"]}
    with pytest.raises(ConfigError, match=r"environments\[0\]\.paths"):
        Policy.from_yaml(json.dumps({"environments": [bad]}))


def test_an_environments_paths_match_nested_files_dot_folders_and_braces():
    text = json.dumps({"environments": [{"name": "dev", "paths": ["c/{dev,qa}/**"]}]})
    [dev] = Policy.from_yaml(text).environments
    assert dev.covers("c/dev/a/b/deploy.yaml") and dev.covers("c/qa/.hidden/x.yaml")
    assert not dev.covers("c/prod/x.yaml")
