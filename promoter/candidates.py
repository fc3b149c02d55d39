"""Which files name which repository, kept per workspace and updated by what changed.

`git grep` over a 5,000-file tree costs tens of milliseconds, paid per event. Between two tips
only a few files change (`git diff-tree` lists them in milliseconds), so the answer is kept in
the workspace and only the changed files are searched again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

GrepAll = Callable[[str], set[str]]  # needle -> paths in the tip that contain it
ReadPath = Callable[[str], bytes | None]  # path -> contents in the tip, None if gone


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
            return cls(data["tip"], {n: set(p) for n, p in data["paths"].items()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return cls()

    def save(self, file: Path) -> None:
        """Write atomically: a killed process leaves the old file or the new one."""
        tmp = file.with_name(f"{file.name}.{os.getpid()}.tmp")
        data = {"tip": self.tip, "paths": {n: sorted(p) for n, p in self.paths.items()}}
        tmp.write_text(json.dumps(data))
        os.replace(tmp, file)

    def advance(self, tip: str, changed: Iterable[str] | None, read: ReadPath) -> None:
        """Move to `tip`; `changed` lists the paths changed since the old tip (None: unknown)."""
        if changed is None:
            self.paths = {}
        elif self.paths:  # with no needles kept there is nothing to re-search
            for path in changed:
                text = read(path)
                for needle, paths in self.paths.items():
                    if text is not None and needle.encode() in text:
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
