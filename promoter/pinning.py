"""One file's image sites, as a manifest or as Helm values, read once and pinned. Pure.

A file that a repository's `helm:` entries name is read as Helm values for that repository, and
as a manifest for the others (promoter.yaml's `paths:` restrict manifests only). Promotions,
rollbacks and promotions between environments all pin through here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from promoter.helmvalues import HelmValues, Targets
from promoter.images import ImageRef
from promoter.manifests import Change, Manifest, Site
from promoter.policy import Policy


@dataclass(frozen=True)
class FileSites:
    """A file read for some repositories: as a manifest for some, as Helm values for others."""

    path: str
    manifest: Manifest | None
    values: HelmValues | None

    @classmethod
    def read(
        cls, text: str, repositories: Collection[str], *, path: str, helm: Targets
    ) -> FileSites:
        """Read `text`; `helm`: the repositories (of `repositories`) its `helm:` entries name."""
        plain = [r for r in repositories if r not in helm]
        return cls(
            path,
            Manifest.read(text, plain, path=path) if plain else None,
            HelmValues.read(text, helm, path=path) if helm else None,
        )

    @property
    def sites(self) -> list[Site]:
        """Manifest sites, then Helm values sites."""
        return [
            *(self.manifest.sites if self.manifest else ()),
            *(self.values.sites if self.values else ()),
        ]

    @property
    def missing(self) -> list[str]:
        """Helm targets that found no site ("PATH: no KEY.repository equal to REPOSITORY")."""
        return self.values.missing if self.values else []

    def pin(self, images: Mapping[str, ImageRef], *, text: str) -> tuple[str, list[Change]]:
        """Pin the sites of `images` in `text` (the text that was read), byte-minimally."""
        changes: list[Change] = []
        if self.manifest is not None:
            plain = {r: i for r, i in images.items() if r in self.manifest.repositories}
            text, pinned = self.manifest.pin(plain)
            changes += pinned
        if self.values is not None:
            helm = {r: i for r, i in images.items() if r in self.values.targets}
            if changes:  # the manifest edits moved the text: read the values again
                values = HelmValues.read(text, self.values.targets, path=self.path)
            else:
                values = self.values
            text, pinned = values.pin(helm)
            changes += pinned
        return text, changes


def helm_targets(policy: Policy, path: str, repositories: Collection[str]) -> Targets:
    """The `helm:` entries of `repositories` that name `path`, by repository."""
    found = {}
    for repository in repositories:
        rules = [rule for rule in policy.rules or () if rule.repository == repository]
        targets = tuple(dict.fromkeys(t for rule in rules for t in rule.helm_targets(path)))
        if targets:
            found[repository] = targets
    return found
