"""Which files name which repository, kept per workspace and updated by what changed.

`git grep` over a 5,000-file tree costs tens of milliseconds, paid per event. Between two tips
only a few files change (`git diff-tree` lists them in milliseconds), so the answer is kept in
the workspace and only the changed files are searched again.

A file is a candidate only where it names the repository itself (`images.names`): in a repo of
image families, every file naming only `.../web-api` would otherwise be parsed for nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from promoter.images import names

GrepAll = Callable[[str], set[str]]  # needle -> paths in the tip that name it
ReadPath = Callable[[str], bytes | None]  # path -> contents in the tip, None if gone

_VERSION = 3  # 1: any file containing the text; 2: naming the repository; 3: JSON too


@dataclass
class CandidateIndex:
    """For one tip: needle -> the YAML paths whose text contains it."""

    tip: str | None = None
    paths: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, file: Path) -> CandidateIndex:
        """The saved index, or an empty one if it is missing or unreadable."""
        try:
            data = json.loads(file.read_text())
            if data.get("version") != _VERSION:
                return cls()
            return cls(data["tip"], {n: set(p) for n, p in data["paths"].items()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return cls()

    def save(self, file: Path) -> None:
        """Write atomically: a killed process leaves the old file or the new one."""
        tmp = file.with_name(f"{file.name}.{os.getpid()}.tmp")
        paths = {n: sorted(p) for n, p in self.paths.items()}
        data = {"version": _VERSION, "tip": self.tip, "paths": paths}
        tmp.write_text(json.dumps(data))
        os.replace(tmp, file)

    def advance(self, tip: str, changed: Iterable[str] | None, read: ReadPath) -> None:
        """Move to `tip`; `changed` lists the paths changed since the old tip (None: unknown)."""
        if changed is None:
            self.paths = {}
        elif self.paths:  # with no needles kept there is nothing to re-search
            patterns = {needle: names(needle) for needle in self.paths}
            for path in changed:
                data = read(path)
                text = None if data is None else data.decode("utf-8", "replace")
                for needle, paths in self.paths.items():
                    if text is not None and patterns[needle].search(text):
                        paths.add(path)
                    else:
                        paths.discard(path)
        self.tip = tip

    def lookup(self, needles: Collection[str], grep: GrepAll) -> set[str]:
        """Paths naming any of `needles`, searching the whole tip only for new needles."""
        for needle in needles:
            if needle not in self.paths:
                self.paths[needle] = grep(needle)
        return set().union(*(self.paths[n] for n in needles))
