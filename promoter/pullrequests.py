"""Pull-request mode, decided without the network: promoter.yaml's `write:` block, the head
branch an image's pull request lives on, and the pull request's title and body.

Pure. Many teams protect the branch Argo CD deploys from; then the promoter proposes its commit
on a head branch of its own and asks the forge (GitHub, GitLab, Secure Source Manager) for one
pull request per base branch and image repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from promoter.audit import SKIP_CI
from promoter.errors import ConfigError
from promoter.yamlcheck import mapping

Mode = Literal["push", "pull-request"]
ForgeKind = Literal["github", "gitlab", "ssm"]
State = Literal["open", "merged", "closed"]
AutoMerge = Literal["enabled", "merged"]  # waits for the checks, or merged at once
Intervention = Literal["holds", "rollback"]
INTERVENTIONS: tuple[Intervention, ...] = ("holds", "rollback")
HEAD_PREFIX = "promoter/"
MAX_TITLE = 250  # GitHub takes 256 characters, GitLab 255
MAX_BODY_LINES = 200  # of the commit message in the body (the commit names every file)
_KEYS = frozenset({"mode", "forge", "repository", "autoMerge"})
_MODES: tuple[Mode, ...] = ("push", "pull-request")
_FORGES: tuple[ForgeKind, ...] = ("github", "gitlab", "ssm")
_PART = r"[A-Za-z0-9_.][A-Za-z0-9_.-]*"
# Secure Source Manager names a repository by its resource name: a project's ID (or number), a
# region, and the repository's ID (4-63 lower-case letters, digits and hyphens).
_SSM = r"projects/([a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]+)/locations/[a-z]+-[a-z]+[0-9]+"
_REPOSITORIES = {  # GitHub: owner/name; GitLab: a project path under one or more groups
    "github": re.compile(rf"{_PART}/{_PART}"),
    "gitlab": re.compile(rf"{_PART}(/{_PART})+"),
    "ssm": re.compile(rf"{_SSM}/repositories/[a-z0-9-]{{4,63}}"),
}
_EXPECTED = {
    "github": "owner/name",
    "gitlab": "a project path (group/project)",
    "ssm": "projects/PROJECT/locations/LOCATION/repositories/REPOSITORY",
}


@dataclass(frozen=True)
class WriteMode:
    """`write:`: push to the branch (the default), or propose a pull request on a forge."""

    mode: Mode = "push"
    forge: ForgeKind | None = None
    repository: str | None = None  # owner/name, GitLab's project path, or SSM's resource name
    auto_merge: bool = False

    @property
    def proposes(self) -> bool:
        """True when the promoter opens pull requests instead of pushing to the branch."""
        return self.mode == "pull-request"

    @classmethod
    def parse(cls, value: Any, where: str = "promoter.yaml: write") -> WriteMode:
        """The `write:` block, checked, or ConfigError naming the key and what was expected."""
        fields = mapping(value, where, _KEYS)
        mode = _choice(fields.get("mode", "push"), _MODES, f"{where}.mode")
        forge = _choice(fields["forge"], _FORGES, f"{where}.forge") if "forge" in fields else None
        auto_merge = fields.get("autoMerge", False)
        if not isinstance(auto_merge, bool):
            raise ConfigError(f"{where}.autoMerge: expected true or false")
        repository = fields.get("repository")
        if mode == "pull-request" and forge is None:
            raise ConfigError(
                f"{where}.forge: required with mode: pull-request ({' or '.join(_FORGES)})"
            )
        if mode == "pull-request" and repository is None:
            raise ConfigError(f"{where}.repository: required with mode: pull-request")
        if repository is not None:
            _check_repository(repository, forge, f"{where}.repository")
        if forge == "ssm" and auto_merge:
            # Its API can only merge now (`:merge`), not once the checks pass: that is not what
            # autoMerge asks for, and merging unchecked changes to prod must not be a surprise.
            raise ConfigError(
                f"{where}.autoMerge: Secure Source Manager has no auto-merge (it can only merge"
                " at once, without waiting for checks): remove autoMerge or set it to false"
            )
        return cls(mode, forge, repository, auto_merge)


@dataclass(frozen=True)
class PullRequest:
    """A pull request (GitHub, SSM) or merge request (GitLab), as the forge numbers and shows it."""

    number: int  # GitHub's number, GitLab's iid, the number that ends SSM's resource name
    url: str  # the forge's web page for it (SSM: its resource name, see forge_ssm)
    created: bool = False  # opened by this call, rather than found open and updated
    node_id: str = field(default="", compare=False)  # GitHub's GraphQL id (auto-merge)
    auto_merge: AutoMerge | None = field(default=None, compare=False)  # what autoMerge got

    def to_json(self) -> dict[str, Any]:
        """The `pullRequest` member of a result's JSON (`autoMerge`: `enabled` or `merged`,
        where promoter.yaml asks for it)."""
        data: dict[str, Any] = {"number": self.number, "url": self.url}
        if self.auto_merge is not None:
            data["autoMerge"] = self.auto_merge
        return data


def head_branch(base: str, repository: str) -> str:
    """The head branch of `repository`'s pull request into `base`: one per pair, always the same.

    `promoter/<base>/<repository>` with the repository's `/` as `+` and a port's `:` as `=`: one
    path component, so that `app` and `app/worker` cannot collide as git refs (a ref cannot be
    both a branch and a folder of branches), and the name reads back unambiguously.
    """
    leaf = repository.replace("/", "+").replace(":", "=")
    if leaf.endswith(".lock"):  # git refuses a component ending so; repositories never end in +
        leaf += "+"
    return f"{HEAD_PREFIX}{base}/{leaf}"


def intervention_branch(base: str, repository: str, kind: Intervention) -> str:
    """The head branch of a person's hold/release (`holds`) or rollback (`rollback`) of
    `repository` into `base`: beside the image's promotion branch, never the same (`@` is in no
    repository name), so a pending rollback and the next build's pull request do not replace
    each other."""
    return f"{head_branch(base, repository)}@{kind}"


def describe(base: str, message: str) -> tuple[str, str]:
    """The pull request of a head branch's commit: its title and body, from the commit message.

    Only the message is read, so any instance derives the same text from the head it finds
    (one overtaken by a newer build puts the newer one's back). A promotion is titled by its
    `Image:` trailer; a hold, release or rollback by its subject. The body is the message as a
    preformatted block, each line on one line without backticks: nothing in it is Markdown.
    """
    subject, _, rest = message.partition("\n")
    image = next(
        (line[7:] for line in reversed(rest.splitlines()) if line.startswith("Image: ")), None
    )
    lines = [_one_line(line) for line in rest.strip().splitlines() if line != SKIP_CI]
    if len(lines) > MAX_BODY_LINES:
        lines = [*lines[:MAX_BODY_LINES], f"... and {len(lines) - MAX_BODY_LINES} more lines"]
    text = "\n".join(f"    {line}" if line else "" for line in lines)
    if image is None:
        return _one_line(subject)[:MAX_TITLE], text + "\n"
    repository, _, digest = image.partition("@")
    intro = f"The promoter proposes `{_one_line(image)}` for `{_one_line(base)}`."
    outro = "A newer build of this image updates this pull request."
    return title(base=base, repository=repository, digest=digest), f"{intro}\n\n{text}\n\n{outro}\n"


def title(*, base: str, repository: str, digest: str) -> str:
    """The pull request's title: which image, which digest, into which branch."""
    short = digest.removeprefix("sha256:")[:12]
    text = f"Promote {repository}@{short} to {base}"
    return _one_line(text)[:MAX_TITLE]


def _choice(value: Any, allowed: tuple[str, ...], where: str) -> Any:
    if value not in allowed:
        raise ConfigError(f"{where}: expected {' or '.join(allowed)}, got {value!r}")
    return value


def _check_repository(value: Any, forge: ForgeKind | None, where: str) -> None:
    patterns = [_REPOSITORIES[forge]] if forge else list(_REPOSITORIES.values())
    if not isinstance(value, str) or not any(p.fullmatch(value) for p in patterns):
        expected = _EXPECTED[forge] if forge else "owner/name"
        raise ConfigError(f"{where}: expected {expected}, got {value!r}")
    if any(part in (".", "..") for part in value.split("/")):
        raise ConfigError(f"{where}: {value!r} must not have '.' or '..' parts")


def _one_line(text: str) -> str:
    """`text` with control characters and newlines turned into spaces: no Markdown breakouts."""
    return " ".join(re.sub(r"[\x00-\x1f\x7f`]", " ", text).split())
