"""OCI image references: parse, validate and render them."""

from __future__ import annotations

import re
from dataclasses import dataclass

# From the OCI distribution spec's reference grammar (distribution/reference).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_REFERENCE = re.compile(
    rf"(?P<repository>{_NAME})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{{32,}}))?",
    re.ASCII,
)
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
MAX_NAME = 255
# What may follow a repository where a manifest names it: a tag or digest, a closing quote or
# flow bracket, a comma, a blank or the end of the line. `.../apps/web` is inside
# `.../apps/web-api:1.2` and `mirror.io/.../apps/web`, but those name other repositories: a
# repository's name is never preceded by a character that a name may hold.
_ENDS = "]@:\"' \t\r,}"
_NAME_CHARS = "A-Za-z0-9._/-"
_ERE_SPECIAL = re.compile(r"([.\[\]\\^$*+?(){}|])")


@dataclass(frozen=True)
class Reference:
    """An image reference split into its parts; tag and digest are optional."""

    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> Reference:
        """Split `text`, or raise ValueError when it is not an OCI reference."""
        match = _REFERENCE.fullmatch(text)
        if match is None or len(match["repository"]) > MAX_NAME:
            raise ValueError(f"not a valid OCI image reference: {text!r}")
        return cls(match["repository"], match["tag"], match["digest"])


@dataclass(frozen=True)
class ImageRef:
    """A built image: its repository, its digest and the build's own tag, if any."""

    repository: str
    digest: str
    tag: str | None = None

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        return f"{self.repository}{tag}@{self.digest}"

    @property
    def short_digest(self) -> str:
        """The first 12 hex digits, as registries show them."""
        return self.digest.removeprefix("sha256:")[:12]


def is_digest(text: str) -> bool:
    """True for `sha256:` followed by exactly 64 lowercase hex digits."""
    return DIGEST.fullmatch(text) is not None


def names(*repositories: str) -> re.Pattern[str]:
    """Matches where a text names one of `repositories` (not a longer name that starts with it)."""
    alternatives = "|".join(re.escape(r) for r in sorted(repositories, key=len, reverse=True))
    return re.compile(f"(?<![{_NAME_CHARS}])(?:{alternatives})(?:[{re.escape(_ENDS)}]|$)", re.M)


def grep_pattern(repository: str) -> str:
    """`names(repository)` as a POSIX extended regular expression, for `git grep -E`."""
    name = _ERE_SPECIAL.sub(r"\\\1", repository)
    return f"(^|[^{_NAME_CHARS}]){name}([{_ENDS}]|$)"
