"""The libyaml loader built once composes exactly what ruamel's own assembly of it composes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from promoter import yamldocs

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
