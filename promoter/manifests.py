"""Find the image references in Kubernetes and kustomize manifests and pin them to digests.

The text is composed (never dumped) with ruamel.yaml; new values are spliced into the original
string at the node marks, so every byte around them stays as it was.

A manifest is read once per event (`Manifest`): the sites found, the pin and the check that the
edit reads back all use that reading, and only the documents that name a wanted repository are
composed (`promoter.yamldocs`).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from promoter.errors import ManifestError
from promoter.images import ImageRef, Reference
from promoter.yamldocs import LINE_TAIL, documents_naming
from promoter.yamledits import (
    RESOLVERS,
    STR_TAG,
    Edit,
    add_field,
    empty_value_at,
    in_place,
    node_error,
    replace_scalar,
    replace_value,
    scalar_fields,
    splice,
)

Kind = Literal["container", "kustomize", "helm"]

_CONTAINER_KEYS = frozenset({"containers", "initContainers", "ephemeralContainers"})
_KUSTOMIZATION_FILES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")  # in any case: kustomize and Argo CD read them all
# The same set for `git grep`/`git ls-files`: a folder's `Kustomization` included.
MANIFEST_PATHSPECS = (
    *(f":(icase)*{suffix}" for suffix in MANIFEST_SUFFIXES),
    "Kustomization",
    "*/Kustomization",
)


def is_manifest(path: str) -> bool:
    """True for the files the promoter reads as manifests: YAML, JSON, `Kustomization`."""
    name = posixpath.basename(path)
    return name.lower().endswith(MANIFEST_SUFFIXES) or name in _KUSTOMIZATION_FILES


_KUSTOMIZATION_KINDS = frozenset({"Kustomization", "Component"})
_KUSTOMIZE_FIELDS = ("name", "newName", "newTag", "digest")
_SEPARATOR = re.compile(r"\s*,\s*")


@dataclass(frozen=True)
class Site:
    """One place in a manifest that names an image repository."""

    repository: str
    kind: Kind
    image: str
    digest: str | None


@dataclass(frozen=True)
class Change:
    """One site whose reference a pin rewrote."""

    repository: str
    old: str
    new: str


@dataclass(frozen=True)
class _Found:
    """A site and its nodes: the image scalar, or a kustomize entry and its name that matched."""

    site: Site
    scalar: ScalarNode
    entry: MappingNode | None = None


@dataclass(frozen=True)
class Manifest:
    """A manifest read once for some repositories: its sites, and the pin that reuses them."""

    path: str
    text: str
    repositories: frozenset[str]
    _found: tuple[_Found, ...] = field(repr=False)

    @classmethod
    def read(cls, text: str, repositories: Collection[str], *, path: str) -> Manifest:
        """Compose the documents of `text` that name `repositories`; find their sites."""
        wanted = frozenset(repositories)
        return cls(path, text, wanted, tuple(_locate(text, wanted, path)))

    @property
    def sites(self) -> list[Site]:
        """The sites naming one of the repositories, in document order."""
        return [found.site for found in self._found]

    def pin(self, images: Mapping[str, ImageRef]) -> tuple[str, list[Change]]:
        """Pin every site of `images`' repositories to its image's digest, byte-minimally."""
        for repository, given in images.items():
            if given.repository != repository:
                raise ValueError(f"{repository!r} maps to an image of {given.repository!r}")
            if repository not in self.repositories:
                raise ValueError(f"{repository!r} was not read for in {self.path}")
        edits: list[Edit] = []
        changes: list[Change] = []
        expected: list[Site] = []
        for found in self._found:
            image = images.get(found.site.repository)
            if image is None or found.site.digest == image.digest:
                expected.append(found.site)
                continue
            site_edits, after = _pin_site(self.text, found, image, self.path)
            edits += site_edits
            expected.append(after)
            changes.append(Change(found.site.repository, found.site.image, after.image))
        if not edits:
            return self.text, []
        new_text = splice(self.text, edits, self.path)
        if Manifest.read(new_text, self.repositories, path=self.path).sites != expected:
            raise ManifestError(f"{self.path}: the edit did not read back as the pinned images")
        return new_text, changes


def find_sites(text: str, repositories: Collection[str], *, path: str) -> list[Site]:
    """List the sites in `text` that name one of `repositories`, in document order."""
    return Manifest.read(text, repositories, path=path).sites


def pin(text: str, images: Mapping[str, ImageRef], *, path: str) -> tuple[str, list[Change]]:
    """Pin every site of `images`' repositories to its image's digest, byte-minimally."""
    return Manifest.read(text, images.keys(), path=path).pin(images)


# Reading


def _locate(text: str, repositories: Collection[str], path: str) -> list[_Found]:
    kustomization = posixpath.basename(path) in _KUSTOMIZATION_FILES
    found: list[_Found] = []
    for doc in documents_naming(text, repositories, path):
        if not isinstance(doc, MappingNode):
            continue
        fields = scalar_fields(doc, path)
        if "apiVersion" in fields and "kind" in fields:
            found += _container_sites(doc, repositories, path)
        kind = fields.get("kind", (None, None))[1]
        if kustomization or (isinstance(kind, ScalarNode) and kind.value in _KUSTOMIZATION_KINDS):
            found += _kustomize_sites(doc, repositories, path)
    unique = {id(f.scalar): f for f in found}  # an alias can reach one scalar twice
    return sorted(unique.values(), key=lambda f: f.scalar.start_mark.index)


def _container_sites(doc: MappingNode, repositories: Collection[str], path: str) -> list[_Found]:
    found: dict[int, _Found] = {}
    aliases: list[tuple[ScalarNode, ScalarNode]] = []
    for key, image in _container_images(doc, path):
        site = _container_site(image, repositories, path)
        if site is not None and in_place(key, image):
            found[id(image)] = _Found(site, image)
        elif site is not None:
            aliases.append((key, image))
    for key, image in aliases:
        # Its anchor is not a container's image: editing it there would change another value.
        if id(image) not in found:
            raise node_error(path, key, "the image is an alias of a value outside any container")
    return list(found.values())


def _container_site(image: ScalarNode, repositories: Collection[str], path: str) -> Site | None:
    candidate = image.value.strip() if image.style in ("|", ">") else image.value
    try:
        repository = Reference.parse(candidate).repository
    except ValueError:
        return None
    if repository not in repositories:
        return None
    _check_inline(image, path)
    return Site(repository, "container", image.value, Reference.parse(image.value).digest)


def _container_images(doc: MappingNode, path: str) -> Iterator[tuple[ScalarNode, ScalarNode]]:
    """Yield the `image` keys and scalars of every container below `doc`, visiting nodes once."""
    seen: set[int] = set()
    stack: list[Node] = [doc]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, SequenceNode):
            stack += reversed(node.value)
        elif isinstance(node, MappingNode):
            for name, (_, value) in scalar_fields(node, path).items():
                if name in _CONTAINER_KEYS and isinstance(value, SequenceNode):
                    yield from _images_in(value, path)
            stack += reversed([value for _, value in node.value])


def _images_in(containers: SequenceNode, path: str) -> Iterator[tuple[ScalarNode, ScalarNode]]:
    for container in containers.value:
        if isinstance(container, MappingNode):
            image = scalar_fields(container, path).get("image")
            if image is not None and isinstance(image[1], ScalarNode):
                yield image[0], image[1]


def _kustomize_sites(doc: MappingNode, repositories: Collection[str], path: str) -> list[_Found]:
    images = scalar_fields(doc, path).get("images")
    if images is None or not isinstance(images[1], SequenceNode):
        return []
    found = []
    for node in images[1].value:
        entry = _kustomize_entry(node, path)
        name = entry.get("newName", entry.get("name")) if entry else None
        if entry is None or name is None or name[1].value not in repositories:
            continue
        for key, value in entry.values():
            if not in_place(key, value):
                raise node_error(path, key, f"{key.value} is an alias; pin this entry by hand")
            _check_inline(value, path)
        digest = entry["digest"][1].value if "digest" in entry else None
        site = Site(name[1].value, "kustomize", _kustomize_image(name[1].value, entry), digest)
        found.append(_Found(site, name[1], node))
    return found


def _kustomize_entry(node: Node, path: str) -> dict[str, tuple[ScalarNode, ScalarNode]] | None:
    """The name/newName/newTag/digest pairs of an images entry; None if it is not one."""
    if not isinstance(node, MappingNode):
        return None
    fields = scalar_fields(node, path)
    given = {name: fields[name] for name in _KUSTOMIZE_FIELDS if name in fields}
    entry = {name: (k, v) for name, (k, v) in given.items() if isinstance(v, ScalarNode)}
    return entry if len(entry) == len(given) else None


def _kustomize_image(image: str, entry: dict[str, tuple[ScalarNode, ScalarNode]]) -> str:
    if "newTag" in entry:
        image += ":" + entry["newTag"][1].value
    if "digest" in entry:
        image += "@" + entry["digest"][1].value
    return image


def _check_inline(node: ScalarNode, path: str) -> None:
    if node.style in ("|", ">"):
        raise node_error(path, node, "an image value in a block scalar (| or >) cannot be pinned")
    if node.start_mark.line != node.end_mark.line:
        raise node_error(path, node, "an image value must be on one line to be pinned")


# Writing


def _pin_site(text: str, found: _Found, image: ImageRef, path: str) -> tuple[list[Edit], Site]:
    node = found.entry
    entry = _kustomize_entry(node, path) if node is not None else None
    if node is None or entry is None:
        after = replace(found.site, image=str(image), digest=image.digest)
        return [replace_scalar(text, found.scalar, str(image))], after
    # kustomize renders name:newTag@digest; a tag that is not the build's own would mislead.
    tag = image.tag if image.tag and image.tag != "latest" else None
    edits = _new_tag_edits(text, node, entry.get("newTag"), tag, path)
    if "digest" in entry:
        edits.append(replace_value(text, entry["digest"], image.digest))
    else:
        edits.append(add_field(text, node, f"digest: {image.digest}", path))
    shown = f"{found.scalar.value}:{tag}" if tag and "newTag" in entry else found.scalar.value
    return edits, replace(found.site, image=f"{shown}@{image.digest}", digest=image.digest)


def _new_tag_edits(
    text: str,
    entry: MappingNode,
    field: tuple[ScalarNode, ScalarNode] | None,
    tag: str | None,
    path: str,
) -> list[Edit]:
    """Set an entry's newTag to the build's tag, or remove it when the build has none."""
    if field is None or field[1].value == tag:
        return []
    if tag is None:
        return [_drop_field(text, entry, field, path)]
    return [replace_value(text, field, _tag_text(tag, field[1]))]


def _tag_text(tag: str, node: ScalarNode) -> str:
    """The tag, double-quoted where a plain scalar would be read as a number, bool or null."""
    needs_quotes = any(r.resolve(ScalarNode, tag, (True, False)) != STR_TAG for r in RESOLVERS)
    return f'"{tag}"' if needs_quotes and not node.style else tag


def _drop_field(
    text: str, entry: MappingNode, field: tuple[ScalarNode, ScalarNode], path: str
) -> Edit:
    key, value = field
    if entry.flow_style:
        return _drop_flow_item(text, entry, field, path)
    line_start = text.rfind("\n", 0, key.start_mark.index) + 1
    end = value.end_mark.index if value.value or value.style else empty_value_at(text, key, value)
    tail = LINE_TAIL.match(text, end)
    if text[line_start : key.start_mark.index].strip(" ") or tail is None:
        raise node_error(path, key, "cannot remove newTag without touching other keys on its line")
    if tail.group().endswith("\n") or line_start == 0:
        return Edit(line_start, tail.end(), "")
    # The last line has no line ending: take the one before it instead.
    return Edit(line_start - (2 if text[:line_start].endswith("\r\n") else 1), tail.end(), "")


def _drop_flow_item(
    text: str, entry: MappingNode, field: tuple[ScalarNode, ScalarNode], path: str
) -> Edit:
    key, value = field
    pairs = entry.value
    at = next(i for i, (k, _) in enumerate(pairs) if k is key)
    if at + 1 < len(pairs):
        start, end = key.start_mark.index, pairs[at + 1][0].start_mark.index
        between = text[value.end_mark.index : end]
    elif at > 0:
        start, end = pairs[at - 1][1].end_mark.index, value.end_mark.index
        between = text[start : key.start_mark.index]
    else:
        between = ""
    if not _SEPARATOR.fullmatch(between):
        raise node_error(path, key, "cannot remove newTag without touching other keys")
    return Edit(start, end, "")
