"""Pin images in Helm values files: `<key>.<field>` gets the digest where `<key>.repository`
is the image's repository.

Charts that set `image.digest` render `repository@digest`, so the digest is all a values file
needs; its `tag:` is left alone. The value is spliced into the original text like a manifest's
(`promoter.yamledits`), and a missing field is added after the mapping's last key.

In a flow mapping (`image: {repository: x, tag: "1.0"}`) a new or unquoted value is written
double-quoted: libyaml-based readers refuse a plain `sha256:...` there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

from promoter.errors import ManifestError
from promoter.images import ImageRef
from promoter.manifests import Change, Site
from promoter.policy import HelmTarget
from promoter.yamldocs import documents_naming
from promoter.yamledits import (
    Edit,
    add_field,
    in_place,
    node_error,
    replace_value,
    scalar_fields,
    splice,
)

Targets = Mapping[str, tuple[HelmTarget, ...]]  # repository -> its `helm:` entries for a file
_NULLS = frozenset({"~", "null", "Null", "NULL"})
_COLON = re.compile(r"[ \t]*:")


@dataclass(frozen=True)
class _Found:
    """A site: the mapping at a target's key, and its field's key and value if present."""

    site: Site
    target: HelmTarget
    mapping: MappingNode
    value: tuple[ScalarNode, ScalarNode] | None


@dataclass(frozen=True)
class HelmValues:
    """A values file read once for some repositories' targets: its sites, and the pin."""

    path: str
    text: str
    targets: Targets
    _found: tuple[_Found, ...] = field(repr=False)

    @classmethod
    def read(cls, text: str, targets: Targets, *, path: str) -> HelmValues:
        """Compose the documents of `text` that name the targets' repositories; find sites."""
        return cls(path, text, targets, tuple(_locate(text, targets, path)))

    @property
    def sites(self) -> list[Site]:
        """The sites, in document order; a site's image is `repository@digest`."""
        return [found.site for found in self._found]

    @property
    def missing(self) -> list[str]:
        """`PATH: no KEY.repository equal to REPOSITORY`, for each repository with no site."""
        named = {found.site.repository for found in self._found}
        return [
            f"{self.path}: no {' or '.join(sorted({t.key for t in targets}))}.repository"
            f" equal to {repository}"
            for repository, targets in sorted(self.targets.items())
            if repository not in named
        ]

    def pin(self, images: Mapping[str, ImageRef]) -> tuple[str, list[Change]]:
        """Set every site of `images`' repositories to its image's digest, byte-minimally."""
        edits: list[Edit] = []
        changes: list[Change] = []
        expected: list[Site] = []
        for found in self._found:
            image = images.get(found.site.repository)
            if image is None or found.site.digest == image.digest:
                expected.append(found.site)
                continue
            edits.append(_set(self.text, found, image.digest, self.path))
            expected.append(_site(image.repository, image.digest))
            changes.append(Change(image.repository, found.site.image, expected[-1].image))
        if not edits:
            return self.text, []
        new_text = splice(self.text, edits, self.path)
        if HelmValues.read(new_text, self.targets, path=self.path).sites != expected:
            raise ManifestError(f"{self.path}: the edit did not read back as the pinned digests")
        return new_text, changes


# Reading


def _locate(text: str, targets: Targets, path: str) -> list[_Found]:
    found: dict[tuple[int, str], _Found] = {}
    for doc in documents_naming(text, targets.keys(), path):
        for repository, entries in targets.items():
            for target in entries:
                mapping = _mapping_at(doc, target.key, repository, path)
                if mapping is not None:
                    site = _found(mapping, target, repository, path)
                    found.setdefault((id(mapping), target.field), site)
    return sorted(found.values(), key=lambda f: (f.mapping.start_mark.index, f.target.field))


def _mapping_at(doc: Node, key: str, repository: str, path: str) -> MappingNode | None:
    """The mapping at the dotted `key` of `doc` if its `repository` is `repository`."""
    node, alias = doc, None
    for name in key.split("."):
        pair = scalar_fields(node, path).get(name) if isinstance(node, MappingNode) else None
        if pair is None:
            return None
        alias = alias or (None if in_place(*pair) else pair[0])
        node = pair[1]
    if not isinstance(node, MappingNode):
        return None
    named = scalar_fields(node, path).get("repository")
    if named is None or not isinstance(named[1], ScalarNode) or named[1].value != repository:
        return None
    if alias is not None:  # the edit would land at the anchor, and change every alias of it
        raise node_error(path, alias, f"{key} is reached through an alias; pin it by hand")
    return node


def _found(mapping: MappingNode, target: HelmTarget, repository: str, path: str) -> _Found:
    pair = scalar_fields(mapping, path).get(target.field)
    if pair is None:
        return _Found(_site(repository, None), target, mapping, None)
    key, value = pair
    where = f"{target.key}.{target.field}"
    if not isinstance(value, ScalarNode) or not in_place(key, value):
        raise node_error(path, key, f"{where} is not a plain value; pin it by hand")
    if value.style in ("|", ">") or value.start_mark.line != value.end_mark.line:
        raise node_error(path, key, f"{where} must be on one line to be pinned")
    empty = value.value == "" or (not value.style and value.value in _NULLS)
    return _Found(_site(repository, None if empty else value.value), target, mapping, (key, value))


def _site(repository: str, digest: str | None) -> Site:
    return Site(repository, "helm", f"{repository}@{digest}" if digest else repository, digest)


# Writing


def _set(text: str, found: _Found, digest: str, path: str) -> Edit:
    """Write `digest` into the found field, or add the field after the mapping's last key."""
    flow = bool(found.mapping.flow_style)
    if found.value is None:
        value = f'"{digest}"' if flow else digest
        return add_field(text, found.mapping, f"{found.target.field}: {value}", path)
    key, node = found.value
    value = f'"{digest}"' if flow and not node.style else digest
    if not node.value and not node.style and not _COLON.match(text, key.end_mark.index):
        return Edit(key.end_mark.index, key.end_mark.index, f": {value}")  # `{..., digest}`
    return replace_value(text, found.value, value)
