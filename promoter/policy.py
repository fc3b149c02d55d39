"""The config repo's promoter.yaml: which images are promoted, where, from which branches, and
which builds are trusted at all."""

from __future__ import annotations

import fnmatch
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from wcmatch import glob

from promoter.environments import Environment, environment_of, parse_environments
from promoter.errors import ConfigError
from promoter.manifests import is_manifest
from promoter.pullrequests import WriteMode
from promoter.yamlcheck import check_glob, check_repository, mapping, strings

DEFAULT_PATH = "promoter.yaml"
_GLOB_FLAGS = glob.GLOBSTAR | glob.DOTGLOB | glob.BRACE  # `overlays/{dev,staging}/**`
_TOP_KEYS = frozenset({"images", "trust", "environments", "write"})
_RULE_KEYS = frozenset({"repository", "paths", "branches", "helm"})
_HELM_KEYS = frozenset({"path", "key", "field"})
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_GLOB_CHARS = "*?[{"
_TRUST_KEYS = frozenset({"verify", "projects", "triggers", "requireProvenance"})
_VERIFIERS = ("cloudbuild",)


@dataclass(frozen=True)
class Trust:
    """`trust:`: which builds may be promoted at all; empty lists restrict nothing."""

    verify: str | None = None  # "cloudbuild": only instances that verify builds may write
    projects: tuple[str, ...] = ()
    triggers: tuple[str, ...] = ()  # trigger names (TRIGGER_NAME) or ids (buildTriggerId)
    require_provenance: bool = False  # options.requestedVerifyOption VERIFIED


@dataclass(frozen=True)
class HelmTarget:
    """One `helm:` entry: in the values files `path` (a glob), `<key>.<field>` gets the digest
    where `<key>.repository` is the image's repository."""

    path: str
    key: str  # dotted: `image`, `app.image`
    field: str = "digest"

    def matches(self, path: str) -> bool:
        """True when `path` (repo-relative, POSIX) is one of these values files."""
        return bool(glob.globmatch(path, [self.path], flags=_GLOB_FLAGS))


@dataclass(frozen=True)
class ImageRule:
    """One `images:` entry: a repository, the files it may change, the branches it follows.

    A Helm values file is a target only through `helm`; `paths` restricts the manifests.
    """

    repository: str
    paths: tuple[str, ...] = ()
    branches: tuple[str, ...] = ()
    helm: tuple[HelmTarget, ...] = ()

    def allows_path(self, path: str) -> bool:
        """True when `path` (repo-relative, POSIX) falls under this rule's globs."""
        return not self.paths or glob.globmatch(path, list(self.paths), flags=_GLOB_FLAGS)

    def helm_targets(self, path: str) -> tuple[HelmTarget, ...]:
        """The `helm:` entries whose glob names `path`."""
        return tuple(target for target in self.helm if target.matches(path))

    def allows_branch(self, branch: str | None) -> bool:
        """True when builds of `branch` may promote; a rule without branches takes any."""
        if not self.branches:
            return True
        return branch is not None and any(fnmatch.fnmatchcase(branch, b) for b in self.branches)


@dataclass(frozen=True)
class Policy:
    """The parsed promoter.yaml; `rules` None means every built repository, everywhere."""

    rules: tuple[ImageRule, ...] | None = None
    trust: Trust = Trust()
    environments: tuple[Environment, ...] = ()  # none: build events may write anywhere
    write: WriteMode = field(default_factory=WriteMode)  # push, or pull requests on a forge

    @classmethod
    def from_yaml(cls, text: str, *, path: str = DEFAULT_PATH) -> Policy:
        """Parse and validate promoter.yaml, or raise ConfigError naming the key."""
        try:
            data = YAML(typ="safe", pure=True).load(text)
        except YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML: {_one_line(err)}") from None
        except Exception as err:
            raise ConfigError(f"{path}: not readable YAML: {_one_line(err)}") from None
        if data is None:
            return cls()
        top = mapping(data, f"{path}", _TOP_KEYS)
        trust = _trust(top["trust"], f"{path}: trust") if "trust" in top else Trust()
        environments = (
            parse_environments(top["environments"], f"{path}: environments")
            if "environments" in top
            else ()
        )
        write = WriteMode.parse(top["write"], f"{path}: write") if "write" in top else WriteMode()
        if "images" not in top:
            return cls(None, trust, environments, write)
        entries = top["images"]
        if entries is None or entries == []:  # every entry commented out: not "every image"
            raise ConfigError(
                f"{path}: images: has no entries (to promote every image, remove the key)"
            )
        if not isinstance(entries, list):
            raise ConfigError(f"{path}: images: expected a list of entries")
        rules = tuple(_rule(e, f"{path}: images[{i}]") for i, e in enumerate(entries))
        return cls(rules, trust, environments, write)

    def takes_builds(self, path: str) -> bool:
        """True when build events may write `path`: anywhere, or in an entry environment."""
        if not self.environments:
            return True
        env = environment_of(self.environments, path)
        return env is not None and env.source is None

    def rules_for(self, repository: str, branch: str | None) -> tuple[ImageRule, ...] | None:
        """The rules that let a build of `branch` promote `repository`; None means unrestricted."""
        if self.rules is None:
            return None
        return tuple(
            r for r in self.rules if r.repository == repository and r.allows_branch(branch)
        )


def follow_link(path: str, target: str) -> str:
    """The repo path that a symlink at `path` pointing to `target` names, if inside the repo."""
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
        raise ConfigError(f"{path}: a symlink to {target!r}, outside the config repo")
    return resolved


def _rule(entry: Any, where: str) -> ImageRule:
    fields = mapping(entry, where, _RULE_KEYS)
    repository = fields.get("repository")
    if not isinstance(repository, str):
        raise ConfigError(f"{where}.repository: expected an image repository (string)")
    check_repository(repository, f"{where}.repository")
    paths = strings(fields.get("paths", []), f"{where}.paths")
    for pattern in paths:
        check_glob(pattern, f"{where}.paths")
    branches = strings(fields.get("branches", []), f"{where}.branches")
    return ImageRule(repository, paths, branches, _helm(fields.get("helm", []), f"{where}.helm"))


def _helm(value: Any, where: str) -> tuple[HelmTarget, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list of entries with path and key")
    return tuple(_helm_target(entry, f"{where}[{i}]") for i, entry in enumerate(value))


def _helm_target(entry: Any, where: str) -> HelmTarget:
    fields = mapping(entry, where, _HELM_KEYS)
    path, key, field = fields.get("path"), fields.get("key"), fields.get("field", "digest")
    if not isinstance(path, str) or not path:
        raise ConfigError(f"{where}.path: expected a glob of values files (string)")
    check_glob(path, f"{where}.path")
    name = posixpath.basename(path)
    if not any(c in name for c in _GLOB_CHARS) and not is_manifest(name):
        raise ConfigError(f"{where}.path: {path!r}: values files are read among *.yaml and *.yml")
    if not isinstance(key, str) or not all(key.split(".")):
        raise ConfigError(f"{where}.key: expected a dotted path of keys, like image or app.image")
    if not isinstance(field, str) or not _FIELD_NAME.fullmatch(field) or field == "repository":
        raise ConfigError(f"{where}.field: expected a plain key name other than repository")
    return HelmTarget(path, key, field)


def _trust(value: Any, where: str) -> Trust:
    fields = mapping(value, where, _TRUST_KEYS)
    verify = fields.get("verify")
    if verify is not None and verify not in _VERIFIERS:
        raise ConfigError(f"{where}.verify: expected {' or '.join(_VERIFIERS)}, got {verify!r}")
    provenance = fields.get("requireProvenance", False)
    if not isinstance(provenance, bool):
        raise ConfigError(f"{where}.requireProvenance: expected true or false")
    return Trust(
        verify,
        strings(fields.get("projects", []), f"{where}.projects"),
        strings(fields.get("triggers", []), f"{where}.triggers"),
        provenance,
    )


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())[:200]
