"""The libyaml loader built once composes exactly what ruamel's own assembly of it composes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from promoter import yamldocs
from promoter.errors import ManifestError

DATA = Path(__file__).resolve().parent / "data"
FILES = sorted(p for p in DATA.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
HARD = {
    "anchors and aliases": "a: &x {image: web:1}\nb: *x\nc: [*x, *x]\n",
    "several documents": "---\na: 1\n...\n--- !tag\n- b\n---\n'c': \"d\"\n",
    "block scalars and comments": "a: |\n  line\n  # not a comment\nb: >-\n  folded\n# end\n",
    "not YAML": "a: [1, 2\nb: 3\n",
    "a duplicate key": "a: 1\na: 2\n",
    "tabs": "a:\n\t- b\n",
}


def _ruamels_own(text: str) -> list[Node]:
    yaml = YAML(typ="safe", pure=False)
    yaml.Resolver = yamldocs._Unresolved
    return list(yaml.compose_all(text))


def _shape(node: Node) -> list[tuple[Any, ...]]:
    seen: dict[int, int] = {}
    rows: list[tuple[Any, ...]] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            rows.append(("alias of", seen[id(item)]))
            continue
        seen[id(item)] = len(rows)
        start, end = item.start_mark, item.end_mark
        rows.append(
            (
                type(item).__name__,
                str(item.tag),
                item.value if isinstance(item.value, str) else len(item.value),
                (start.index, start.line, start.column, end.index, end.line, end.column),
                getattr(item, "style", None),
                getattr(item, "flow_style", None),
                item.anchor,
            )
        )
        if isinstance(item, SequenceNode):
            stack += reversed(item.value)
        elif isinstance(item, MappingNode):
            stack += reversed([part for pair in item.value for part in pair])
    return rows


def _composed(compose: Any, text: str) -> Any:
    try:
        return [_shape(doc) for doc in compose(text)]
    except YAMLError as err:
        return (type(err).__name__, str(err))


@pytest.mark.parametrize(
    "text",
    [*(p.read_text() for p in FILES), *HARD.values()],
    ids=[*(str(p.relative_to(DATA)) for p in FILES), *HARD],
)
def test_the_loader_composes_what_ruamel_composes(text: str):
    assert yamldocs._CLoader is not None  # ruamel.yaml.clib is a dependency
    assert _composed(yamldocs._fast_compose, text) == _composed(_ruamels_own, text)


_BOM = "\ufeff"
REPO = "europe-west1-docker.pkg.dev/demo-shop/apps/web"
BREAKS = {"LF": "\n", "CRLF": "\r\n"}
# Line breaks YAML reads inside a comment, besides the document's own: a lone CR, NEL, U+2028.
ODD_BREAKS = {"none": "", "lone CR": "\r# b", "NEL": "\x85# b", "U+2028": "\u2028# b"}


def _stream(nl: str, odd: str, tail: str) -> str:
    """Four documents, a blank line first; the image named in the second and the fourth."""
    return nl.join(
        [
            "",
            f"a: 1 # a{odd}",
            "---",
            f"image: {REPO}:1",
            "...",
            f"# between{odd}",
            "---",
            "kind: ConfigMap",
            "---",
            "spec:",
            f"  image: {REPO}:2",
            tail,
        ]
    )


def _moved_by_one(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """`rows` of `_shape` with each mark's index one further (a byte order mark in front)."""
    moved = []
    for row in rows:
        if row[0] != "alias of":
            start_index, start_line, start_col, end_index, end_line, end_col = row[3]
            marks = (start_index + 1, start_line, start_col, end_index + 1, end_line, end_col)
            row = (*row[:3], marks, *row[4:])
        moved.append(row)
    return moved


@pytest.mark.parametrize("odd", ODD_BREAKS.values(), ids=list(ODD_BREAKS))
@pytest.mark.parametrize("nl", BREAKS.values(), ids=list(BREAKS))
def test_documents_composed_apart_have_the_marks_of_the_whole_stream(nl: str, odd: str):
    text = _stream(nl, odd, "")
    whole = [_shape(doc) for doc in yamldocs._fast_compose(text)]
    apart = [_shape(doc) for doc in yamldocs.documents_naming(text, [REPO], "f.yaml")]
    assert apart == [whole[1], whole[3]]
    # A leading byte order mark moves every index by one character, and no line.
    marked = [_shape(doc) for doc in yamldocs.compose(_BOM + text, "f.yaml")]
    assert marked == [_moved_by_one(doc) for doc in whole]


# NEL and U+2028 are left out here: a broken document's message comes from ruamel's own parser
# (YAML 1.2: not line breaks), while the lines before it are counted as libyaml counts them.
@pytest.mark.parametrize("odd", ["", ODD_BREAKS["lone CR"]], ids=["none", "lone CR"])
@pytest.mark.parametrize("nl", BREAKS.values(), ids=list(BREAKS))
def test_a_broken_later_document_is_named_by_its_line_in_the_whole_file(nl: str, odd: str):
    text = _stream(nl, odd, "  bad: [")
    with pytest.raises(ManifestError) as apart:
        list(yamldocs.documents_naming(text, [REPO], "f.yaml"))
    with pytest.raises(ManifestError) as whole:
        yamldocs.compose(text, "f.yaml")  # the stream at once: no line is counted by us
    assert str(apart.value) == str(whole.value)
    # Twelve lines, and the two that each odd break starts.
    assert str(apart.value).startswith(f"f.yaml: line {12 + 2 * bool(odd)}: ")


def test_a_character_yaml_refuses_is_named_by_its_line():
    with pytest.raises(ManifestError, match=r"^g\.yaml: line 3: "):
        yamldocs.compose("a: 1\nb: 2\nc: \x01\n", "g.yaml")
