"""The documents of a YAML stream, composed one by one and only where they name an image.

A rendered `helm template` output of 1,600 documents naming the image in two of them costs two
small compositions, not seconds. A line starting with `---` or `...` ends a document (even
inside a block scalar), and anchors never cross documents, so a document reads the same on its
own; its nodes' marks are moved to where it stands in the whole text. A directive anywhere keeps
the stream whole (it belongs to the document after it).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection, Iterator
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, StreamMark, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag

try:  # libyaml (ruamel.yaml.clib), as ruamel.yaml itself imports it
    from _ruamel_yaml import CParser  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - a dependency; without it ruamel's parser reads
    CParser = None

from promoter.errors import ManifestError
from promoter.images import names

# The rest of a line after a value: blanks, a comment, the line ending (only LF or CRLF: a lone
# CR or NEL, which YAML also reads as line breaks, makes the edit refuse).
LINE_TAIL = re.compile(r"[ \t]*(?:#[^\r\n\x85\u2028\u2029]*)?(?:\r\n|\n|\Z)")
# A document marker line, found after the line break before it: a pattern that starts with a
# literal is searched for at C speed, one that starts with `^` is tried at every offset.
_MARKER_LINE = re.compile(r"\n(?:(---)|\.\.\.)(?=[ \t\r\n]|\Z)")
_LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
_BOM = "\ufeff"
# The tag of a plain scalar whose type was not resolved while composing: resolving every scalar
# (is it a bool? an int? a date?) was half the cost of composing, and only a few keys are asked.
# One shared Tag object per kind, so that a node's tag is compared by identity, not decoded.
PLAIN = Tag(suffix="tag:promoter.invalid,2026:plain")
STR, SEQ, MAP = (Tag(suffix=f"tag:yaml.org,2002:{kind}") for kind in ("str", "seq", "map"))


class _Unresolved(VersionedResolver):
    """Tags without looking at values: quoted scalars are strings, plain ones stay PLAIN."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode:
            return PLAIN if implicit[0] else STR
        return SEQ if kind is SequenceNode else MAP


_LOCAL = threading.local()  # a YAML instance holds its parser's state: one per thread


def documents_naming(text: str, repositories: Collection[str], path: str) -> Iterator[Node]:
    """The composed documents of `text` that name one of `repositories`, marks as in `text`."""
    spans = _document_spans(text)
    if len(spans) == 1:
        yield from compose(text, path)
        return
    naming = names(*repositories) if repositories else None
    lines, counted = 0, 0
    for start, end in spans:
        if naming is None or not naming.search(text, start, end):
            continue
        lines += _line_breaks(text, counted, start)
        counted = start
        for doc in compose(text[start:end], path, lines=lines):
            yield _moved(doc, start, lines)


def _line_breaks(text: str, start: int, end: int) -> int:
    """How many line breaks YAML reads in text[start:end] (for line numbers in messages)."""
    breaks = text.count("\n", start, end)
    if text.count("\r", start, end) == text.count("\r\n", start, end) and not any(
        other in text for other in "\x85\u2028\u2029"
    ):
        return breaks
    return len(_LINE_BREAK.findall(text, start, end))


def _document_spans(text: str) -> list[tuple[int, int]]:
    """Where each document of the stream `text` starts and ends, as offsets."""
    if text.startswith("%") or "\n%" in text:
        return [(0, len(text))]  # a directive belongs to the document after it: keep them whole
    spans, start = [], 0
    for marker in _MARKER_LINE.finditer("\n" + text):  # offsets in `text`: marker.start() on
        if marker[1]:  # `---` starts a document on its own line
            cut = marker.start()
        else:  # `...` ends one after its line
            line_end = LINE_TAIL.match(text, marker.end() - 1)
            cut = line_end.end() if line_end else marker.end() - 1
        if cut > start:
            spans.append((start, cut))
            start = cut
    spans.append((start, len(text)))
    return spans


def _moved(root: Node, index: int, lines: int) -> Node:
    """`root` with every node's marks moved by `index` characters and `lines` lines."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for name in ("start_mark", "end_mark"):
            mark = getattr(node, name)
            setattr(
                node,
                name,
                StreamMark(mark.name, mark.index + index, mark.line + lines, mark.column),
            )
        if isinstance(node, SequenceNode):
            stack += node.value
        elif isinstance(node, MappingNode):
            stack += [item for pair in node.value for item in pair]
    return root


def compose(text: str, path: str, *, lines: int = 0) -> list[Node]:
    """The documents of `text`, or a ManifestError naming the line (offset by `lines`)."""
    body = text.lstrip(_BOM)  # libyaml skips byte order marks without counting them
    if len(body) < len(text):
        return [_moved(doc, len(text) - len(body), 0) for doc in _compose(body, path, lines)]
    return _compose(text, path, lines)


def _compose(text: str, path: str, lines: int) -> list[Node]:
    # libyaml's parser (ruamel.yaml.clib) under ruamel's composer gives the same nodes, marks
    # counted in characters, ten times faster than the pure Python parser (0.37 ms against
    # 3.3 ms for a small Deployment). It reads YAML 1.1, so what it refuses (`{image: a:1}` is
    # valid 1.2) goes to ruamel's own parser, whose verdict stands.
    try:
        return _fast_compose(text)
    except YAMLError as err:
        refused: YAMLError = err
    except RecursionError as err:
        raise ManifestError(f"{path}: line 1: nested too deeply") from err
    try:
        return list(YAML(typ="rt").compose_all(text))
    except YAMLError as err:
        raise _unreadable(err, text, path, lines) from err
    except RecursionError as err:
        raise ManifestError(f"{path}: line 1: nested too deeply") from err
    except (ValueError, OverflowError, AssertionError) as err:
        # The pure parser fails on some input it should refuse (an escape past U+10FFFF, an
        # unknown %YAML version): libyaml's refusal says what is wrong.
        raise _unreadable(refused, text, path, lines) from err


def _fast_compose(text: str) -> list[Node]:
    if _CLoader is None:  # no libyaml here: ruamel's own parser behind the same interface
        return list(_fast_yaml().compose_all(text))
    loader = _CLoader(text)
    try:
        documents = []
        while loader.check_node():
            documents.append(loader.get_node())
        return documents
    finally:
        loader.dispose()


def _fast_yaml() -> YAML:
    yaml = getattr(_LOCAL, "yaml", None)
    if yaml is None:
        yaml = _LOCAL.yaml = YAML(typ="safe", pure=False)
        yaml.Resolver = _Unresolved
    yaml.doc_infos.clear()  # one record per call, kept for the instance's life otherwise
    return yaml


_CLoader: Any = None
if CParser is not None:

    class _LibyamlLoader(CParser, SafeConstructor, _Unresolved):  # type: ignore[misc]
        """libyaml's parser, ruamel's safe constructor and our resolver: what
        `YAML(typ="safe", pure=False).compose_all` puts together, but as one class. ruamel makes
        a new class on every call and keeps a record of every call on the instance: 0.04 ms a
        composition here, and memory that grew with every event of a long-lived process."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            self._parser = self._composer = self
            SafeConstructor.__init__(self, loader=self)
            self.allow_duplicate_keys = False
            _Unresolved.__init__(self, version=None, loadumper=self)

    _CLoader = _LibyamlLoader


def _unreadable(err: YAMLError, text: str, path: str, lines: int) -> ManifestError:
    if isinstance(err, MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else 1
        reason = " ".join(str(err.problem or err.context or "not valid YAML").split())
        return ManifestError(f"{path}: line {line + lines}: {reason}")
    if isinstance(err, ReaderError):
        line = text.count("\n", 0, err.position) + 1
        return ManifestError(f"{path}: line {line + lines}: {err.reason} ({err.character!r})")
    return ManifestError(f"{path}: line {lines + 1}: not valid YAML ({type(err).__name__})")
