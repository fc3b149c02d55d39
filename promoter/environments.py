"""promoter.yaml's `environments:`: where builds land first, and which environment feeds which.

Pure. An environment is a set of paths of the config repo (its overlays, its cluster's folder).
One without `from` is an entry: build events promote into it. One with `from` gets only what its
`from` environment runs, by `promoter promote-env` or the event chain, behind its gates
(`requireHealthy`, `soak`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wcmatch import glob

from promoter.errors import ConfigError
from promoter.yamlcheck import check_glob, mapping, strings

_KEYS = frozenset({"name", "paths", "argocd", "from", "auto", "requireHealthy", "soak"})
_ARGOCD_KEYS = frozenset({"app", "namespace"})
_GLOB_FLAGS = glob.GLOBSTAR | glob.DOTGLOB | glob.BRACE  # as promoter.yaml's image paths
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")  # a DNS label, like a namespace
_SOAK = re.compile(r"(\d+)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class ArgoApp:
    """The Argo CD Application that syncs an environment."""

    app: str
    namespace: str = "argocd"


@dataclass(frozen=True)
class Environment:
    """One environment: its paths, and what feeds it."""

    name: str
    paths: tuple[str, ...]
    argocd: ArgoApp | None = None
    source: str | None = None  # `from`: the environment whose digests this one gets
    auto: bool = True  # promoted by the event chain; false: only by command
    require_healthy: bool = False
    soak_seconds: int = 0

    def covers(self, path: str) -> bool:
        """True when `path` is one of this environment's files."""
        return glob.globmatch(path, list(self.paths), flags=_GLOB_FLAGS)


def parse_environments(value: Any, where: str) -> tuple[Environment, ...]:
    """The `environments:` list, checked: unique names, known `from`s, no cycles."""
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: expected a list of environments")
    found = [_environment(entry, f"{where}[{n}]") for n, entry in enumerate(value)]
    names = [env.name for env in found]
    for n, env in enumerate(found):
        if env.name in names[:n]:
            raise ConfigError(f"{where}[{n}].name: {env.name!r} is named twice")
    by_name = {env.name: env for env in found}
    for n, env in enumerate(found):
        if env.source is not None and env.source not in by_name:
            known = ", ".join(names)
            raise ConfigError(f"{where}[{n}].from: no environment {env.source!r} (known: {known})")
    for n, env in enumerate(found):
        _check_no_cycle(env, by_name, where)
        if env.require_healthy and env.source and by_name[env.source].argocd is None:
            raise ConfigError(
                f"{where}[{n}].requireHealthy: environment {env.source!r} has no argocd app to"
                " ask (add argocd: {app: NAME, namespace: argocd} to it)"
            )
    return tuple(found)


def entry_environments(environments: tuple[Environment, ...]) -> tuple[Environment, ...]:
    """The environments build events promote into (those without `from`)."""
    return tuple(env for env in environments if env.source is None)


def environment_of(environments: tuple[Environment, ...], path: str) -> Environment | None:
    """The first environment whose paths hold `path`."""
    return next((env for env in environments if env.covers(path)), None)


def _environment(entry: Any, where: str) -> Environment:
    fields = mapping(entry, where, _KEYS)
    name = fields.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"{where}.name: expected a lowercase name like 'prod', got {name!r}")
    if "paths" not in fields:
        raise ConfigError(f"{where}.paths: required (the files of environment {name!r})")
    paths = strings(fields["paths"], f"{where}.paths")
    for pattern in paths:
        check_glob(pattern, f"{where}.paths")
    source = fields.get("from")
    if source is not None and not isinstance(source, str):
        raise ConfigError(f"{where}.from: expected an environment's name")
    if source == name:
        raise ConfigError(f"{where}.from: environment {name!r} cannot come from itself")
    argocd = _argocd(fields["argocd"], f"{where}.argocd") if "argocd" in fields else None
    auto = _flag(fields, "auto", where, default=True)
    healthy = _flag(fields, "requireHealthy", where, default=False)
    if healthy and source is None:
        raise ConfigError(f"{where}.requireHealthy: only for an environment with `from`")
    soak = _soak(fields.get("soak"), f"{where}.soak")
    if soak and source is None:
        raise ConfigError(f"{where}.soak: only for an environment with `from`")
    return Environment(name, paths, argocd, source, auto, healthy, soak)


def _argocd(value: Any, where: str) -> ArgoApp:
    fields = mapping(value, where, _ARGOCD_KEYS)
    app, namespace = fields.get("app"), fields.get("namespace", "argocd")
    if not isinstance(app, str) or not app:
        raise ConfigError(f"{where}.app: expected the Argo CD Application's name")
    if not isinstance(namespace, str) or not _NAME.fullmatch(namespace):
        raise ConfigError(f"{where}.namespace: expected a namespace name, got {namespace!r}")
    return ArgoApp(app, namespace)


def _flag(fields: Mapping[str, Any], key: str, where: str, *, default: bool) -> bool:
    value = fields.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}.{key}: expected true or false, got {value!r}")
    return value


def _soak(value: Any, where: str) -> int:
    """`30m`, `2h`, `1d`, `90s`, or a sum of them (`1h30m`), in seconds."""
    if value is None:
        return 0
    text = str(value) if isinstance(value, str) else ""
    parts = _SOAK.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ConfigError(f"{where}: expected a duration like 30m, 2h or 1h30m, got {value!r}")
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)


def _check_no_cycle(env: Environment, by_name: Mapping[str, Environment], where: str) -> None:
    seen = [env.name]
    current = env
    while current.source is not None:
        current = by_name[current.source]
        if current.name in seen:
            chain = " -> ".join([*seen, current.name])
            raise ConfigError(f"{where}: `from` goes round in a cycle: {chain}")
        seen.append(current.name)
