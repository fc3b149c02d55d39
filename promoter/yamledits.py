"""Byte-minimal edits of YAML text at composed nodes' marks: read a mapping's keys, splice values.

Shared by the manifest and Helm values pins: a value is replaced, or a `key: value` pair added,
as a splice of the original string, so every byte around it stays as it was.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode
from ruamel.yaml.resolver import VersionedResolver

from promoter.errors import ManifestError
from promoter.yamldocs import LINE_TAIL, PLAIN, STR

STR_TAG = "tag:yaml.org,2002:str"
# Kubernetes tools read YAML 1.1 (yes/no are booleans), ruamel reads 1.2: a value that must be
# a string has to be one under both.
RESOLVERS = (VersionedResolver(version=(1, 1)), VersionedResolver(version=(1, 2)))
_PROPERTIES = re.compile(r"(?:[&!]\S*\s+)*")  # an anchor or tag before a scalar's own text


@dataclass(frozen=True)
class Edit:
    """Replace text[start:end] with `text`."""

    start: int
    end: int
    text: str


def scalar_fields(mapping: MappingNode, path: str) -> dict[str, tuple[ScalarNode, Node]]:
    """Map each plain-string key to its (key, value) nodes; a key given twice is an error."""
    fields: dict[str, tuple[ScalarNode, Node]] = {}
    for key, value in mapping.value:
        if isinstance(key, ScalarNode) and _is_string(key):
            if key.value in fields:
                raise node_error(path, key, f"duplicate key {key.value!r}")
            fields[key.value] = (key, value)
    return fields


def _is_string(node: ScalarNode) -> bool:
    """A string key: quoted or tagged so, or plain text YAML 1.2 reads as a string."""
    if node.ctag is PLAIN:
        return _plain_is_string(node.value)
    return node.ctag is STR or node.tag == STR_TAG


@functools.lru_cache(maxsize=4096)
def _plain_is_string(text: str) -> bool:
    return bool(RESOLVERS[1].resolve(ScalarNode, text, (True, False)) == STR_TAG)


def in_place(key: Node, value: Node) -> bool:
    """False when `value` is an alias: its node was written before the key, at its anchor."""
    return bool(value.start_mark.index >= key.end_mark.index)


def replace_value(text: str, field: tuple[ScalarNode, ScalarNode], value: str) -> Edit:
    """Replace a key's one-line scalar value; a key with no value at all (`digest:`) gets one."""
    key, node = field
    if node.value or node.style:
        return replace_scalar(text, node, value)
    at = empty_value_at(text, key, node)
    return Edit(at, at, value if text[at - 1] in " \t" else f" {value}")


def empty_value_at(text: str, key: ScalarNode, node: ScalarNode) -> int:
    """Where the missing value of `key:` goes: where the parser marks it, if on the key's line."""
    if node.start_mark.line == key.end_mark.line:
        return int(node.start_mark.index)
    return text.index(":", key.end_mark.index) + 1  # the pure parser marks the next token


def replace_scalar(text: str, node: ScalarNode, value: str) -> Edit:
    """Replace a one-line scalar's own text (not its anchor or tag), keeping its quotes."""
    start = _PROPERTIES.match(text, node.start_mark.index, node.end_mark.index)
    quote = node.style if node.style in ("'", '"') else ""
    assert start is not None  # the pattern matches the empty string
    return Edit(start.end(), node.end_mark.index, f"{quote}{value}{quote}")


def add_field(text: str, entry: MappingNode, field: str, path: str) -> Edit:
    """Add `key: value` after the entry's last pair: a new line in block style, an item in flow."""
    key, last = entry.value[-1]
    if not isinstance(last, ScalarNode) or last.style in ("|", ">") or not in_place(key, last):
        raise node_error(
            path, key, "cannot add a digest after a value that is not a one-line scalar"
        )
    end = last.end_mark.index
    if entry.flow_style:
        return Edit(end, end, f", {field}")
    tail = LINE_TAIL.match(text, end)
    if tail is None:
        raise node_error(path, last, "cannot add a digest after a line that goes on")
    indent = " " * entry.value[0][0].start_mark.column
    if tail.group().endswith("\n"):
        line_end = "\r\n" if tail.group().endswith("\r\n") else "\n"
        return Edit(tail.end(), tail.end(), f"{indent}{field}{line_end}")
    # The last line has no line ending: give it the one the line before it has.
    line_end = "\r\n" if text.rfind("\r\n", 0, end) + 1 == text.rfind("\n", 0, end) else "\n"
    return Edit(tail.end(), tail.end(), f"{line_end}{indent}{field}")


def splice(text: str, edits: list[Edit], path: str) -> str:
    """`text` with every edit applied; edits that overlap are refused."""
    pieces, position = [], 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        if edit.start < position:
            raise ManifestError(f"{path}: two edits overlap at offset {edit.start}")
        pieces += [text[position : edit.start], edit.text]
        position = edit.end
    return "".join([*pieces, text[position:]])


def node_error(path: str, node: Node, reason: str) -> ManifestError:
    """A ManifestError naming `path` and the line `node` starts on."""
    return ManifestError(f"{path}: line {node.start_mark.line + 1}: {reason}")
