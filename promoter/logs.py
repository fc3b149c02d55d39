"""One structured line per event, in the JSON shape Cloud Logging reads from stdout."""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, TextIO

_lock = threading.Lock()


def log_line(severity: str, message: str, *, stream: TextIO | None = None, **fields: Any) -> None:
    """Write one JSON log line: severity, message and the non-empty `fields`."""
    entry = {"severity": severity, "message": message}
    entry.update({key: value for key, value in fields.items() if value is not None})
    out = stream or sys.stdout
    line = json.dumps(entry, default=str) + "\n"
    # One write under a lock: print() writes the text and the newline separately, so lines of
    # threads handling events at once could interleave ("{...}{...}\n\n").
    with _lock:
        out.write(line)
        out.flush()
