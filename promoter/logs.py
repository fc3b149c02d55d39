"""One structured line per event, in the JSON shape Cloud Logging reads from stdout."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO


def log_line(severity: str, message: str, *, stream: TextIO | None = None, **fields: Any) -> None:
    """Write one JSON log line: severity, message and the non-empty `fields`."""
    entry = {"severity": severity, "message": message}
    entry.update({key: value for key, value in fields.items() if value is not None})
    print(json.dumps(entry, default=str), file=stream or sys.stdout, flush=True)
