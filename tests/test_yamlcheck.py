"""promoter.yaml's shared checks on their own: a glob that can never match says why, and how to
write it (each case a survivor of the yamlcheck mutation run; docs/TESTING.md)."""

from __future__ import annotations

import pytest

from promoter.errors import ConfigError
from promoter.yamlcheck import check_glob, check_repository, mapping, strings


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (
            "./overlays/dev/**",
            "paths start at the repo's root, without './' (write 'overlays/dev/**')",
        ),
        ("./a", "paths start at the repo's root, without './' (write 'a')"),
        ("overlays/dev/", "a folder's files are 'overlays/dev/**'"),
        ("overlays//dev/**", "a path has no empty or '.' parts"),
        ("overlays/./dev/**", "a path has no empty or '.' parts"),
        ("overlays/dev/.", "a path has no empty or '.' parts"),
    ],
)
def test_a_glob_that_can_never_match_says_why(pattern, why):
    with pytest.raises(ConfigError) as raised:
        check_glob(pattern, "images[0].paths")
    assert str(raised.value) == f"images[0].paths: {pattern!r} can never match a file: {why}"


@pytest.mark.parametrize("pattern", ["overlays/dev/**", "a", ".promoter/x", "a/.b/c", "a.b/c."])
def test_a_glob_that_can_match_passes(pattern):
    check_glob(pattern, "paths")


@pytest.mark.parametrize("pattern", ["/etc/**", "../x/**", "a/../../b"])
def test_a_glob_outside_the_repo_is_refused(pattern):
    with pytest.raises(ConfigError, match=r"must stay inside the repo \(no '/' or '\.\.'\)"):
        check_glob(pattern, "paths")


@pytest.mark.parametrize("value", ["web:1", f"web@sha256:{'1' * 64}", "Web", "a//b", ""])
def test_a_repository_with_a_tag_or_not_one_at_all_is_refused(value):
    with pytest.raises(ConfigError, match=f"^r: expected a repository without tag, got {value!r}$"):
        check_repository(value, "r")


def test_mappings_and_strings_name_what_they_expected():
    assert mapping({"a": 1}, "w", frozenset({"a", "b"})) == {"a": 1}
    with pytest.raises(ConfigError, match=r"^w: unknown key 'c' \(expected one of: a, b\)$"):
        mapping({"c": 1}, "w", frozenset({"b", "a"}))
    with pytest.raises(ConfigError, match=r"^w: expected a mapping$"):
        mapping([], "w", frozenset())
    assert strings(["x", "y"], "w") == ("x", "y")
    for bad in ("x", ["x", ""], ["x", 1]):
        with pytest.raises(ConfigError, match=r"^w: expected a list of non-empty strings$"):
            strings(bad, "w")
