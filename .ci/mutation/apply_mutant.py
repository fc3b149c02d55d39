"""Check that tests catch one mutant: apply a textual change, run pytest, put the file back.

Usage: python .ci/mutation/apply_mutant.py FILE OLD NEW [NTH] -- PYTEST-ARGS...
Replaces the NTH (default 0) occurrence of OLD in FILE with NEW, runs `pytest -x -q PYTEST-ARGS`,
restores FILE whatever happens, and prints KILLED (the tests failed) or SURVIVED with pytest's
last line. Exit status: 0 when killed, 1 when it survived.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    split = argv.index("--")
    file, old, new, *rest = argv[:split]
    nth = int(rest[0]) if rest else 0
    path = Path(file)
    original = path.read_text()
    at = -1
    for _ in range(nth + 1):
        at = original.index(old, at + 1)
    path.write_text(original[:at] + new + original[at + len(old) :])
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-x",
                "-q",
                "-p",
                "no:cacheprovider",
                *argv[split + 1 :],
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        path.write_text(original)
    last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    print(f"{'KILLED' if done.returncode else 'SURVIVED'} {old!r} -> {new!r} #{nth}: {last}")
    return 0 if done.returncode else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
