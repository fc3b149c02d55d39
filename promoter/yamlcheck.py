"""Checks shared by promoter.yaml's sections: each raises ConfigError naming where and what."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promoter.errors import ConfigError
from promoter.images import Reference


def mapping(value: Any, where: str, allowed: frozenset[str]) -> Mapping[str, Any]:
    """`value` as a mapping whose keys are all `allowed`."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping")
    for key in value:
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            raise ConfigError(f"{where}: unknown key {key!r} (expected one of: {known})")
    return value


def strings(value: Any, where: str) -> tuple[str, ...]:
    """`value` as a list of non-empty strings."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: expected a list of non-empty strings")
    return tuple(value)


def check_repository(repository: str, where: str) -> None:
    """Raise ConfigError unless `repository` is an image repository without tag or digest."""
    try:
        parsed = Reference.parse(repository)
    except ValueError:
        parsed = None
    if parsed is None or parsed.repository != repository:
        raise ConfigError(f"{where}: expected a repository without tag, got {repository!r}")


def check_glob(pattern: str, where: str) -> None:
    """Raise ConfigError unless `pattern` is a glob of repo paths that can match a file."""
    if pattern.startswith("/") or ".." in pattern.split("/"):
        raise ConfigError(f"{where}: {pattern!r} must stay inside the repo (no '/' or '..')")
    never = _never_matches(pattern)
    if never:
        raise ConfigError(f"{where}: {pattern!r} can never match a file: {never}")


def _never_matches(pattern: str) -> str | None:
    """Why `pattern` can match no repo path (they are like `overlays/dev/app.yaml`), if so."""
    if pattern.startswith("./"):
        return f"paths start at the repo's root, without './' (write {pattern[2:]!r})"
    if pattern.endswith("/"):
        return f"a folder's files are {pattern + '**'!r}"
    if "//" in pattern or "/./" in pattern or pattern.endswith("/."):
        return "a path has no empty or '.' parts"
    return None
