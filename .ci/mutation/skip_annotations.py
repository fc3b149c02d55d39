"""Mark as skipped every mutant inside a type annotation.

Our modules use `from __future__ import annotations`, so annotations are never evaluated: each
mutant there (11 per `str | None`) is equivalent. cosmic-ray itself only skips `x: A | B = ...`.
Usage: python skip_annotations.py SESSION.sqlite
"""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

from cosmic_ray.tools.filters.filter_app import FilterApp
from cosmic_ray.work_item import WorkerOutcome, WorkResult

Span = tuple[tuple[int, int], tuple[int, int]]


@cache
def annotation_spans(path: Path) -> list[Span]:
    tree = ast.parse(path.read_text())
    future = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(alias.name == "annotations" for alias in node.names)
        for node in tree.body
    )
    if not future:
        return []  # annotations are evaluated: a mutant there is a real one
    found: list[ast.expr | None] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg | ast.AnnAssign):
            found.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(node.returns)
    return [
        ((a.lineno, a.col_offset), (a.end_lineno or a.lineno, a.end_col_offset or 0))
        for a in found
        if a is not None
    ]


class SkipAnnotations(FilterApp):
    def description(self) -> str:
        return __doc__ or ""

    def filter(self, work_db, args):  # type: ignore[no-untyped-def]
        for item in work_db.pending_work_items:
            if all(
                any(
                    start <= m.start_pos and m.end_pos <= end
                    for start, end in annotation_spans(m.module_path)
                )
                for m in item.mutations
            ):
                work_db.set_result(
                    item.job_id,
                    WorkResult(output="In an annotation", worker_outcome=WorkerOutcome.SKIPPED),
                )


if __name__ == "__main__":
    sys.exit(SkipAnnotations().main())
