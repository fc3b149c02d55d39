"""Print one module's figures from a cosmic-ray session and append its survivors to a report.

cr-report counts skipped mutants as killed and timeouts as killed; this reads the session
through cosmic-ray's WorkDB and keeps the four apart.
Usage: python summary.py SESSION.sqlite MODULE SECONDS REPORT
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome


def outcome(result) -> str:  # type: ignore[no-untyped-def]
    if result.worker_outcome == WorkerOutcome.SKIPPED:
        return "skipped"
    if result.test_outcome == TestOutcome.SURVIVED:
        return "survived"
    if result.test_outcome == TestOutcome.KILLED:
        return "timeout" if result.output == "timeout" else "killed"
    return "incompetent"  # the mutant did not even run (worker exception, no-test)


def main(session: str, module: str, seconds: str, report: str) -> None:
    with use_db(session, WorkDB.Mode.open) as db:
        done = list(db.completed_work_items)
        pending = db.num_work_items - len(done)
    counts = Counter(outcome(result) for _, result in done)
    tested = counts["killed"] + counts["timeout"] + counts["survived"]
    score = 100 * (tested - counts["survived"]) / tested if tested else 0.0
    minutes, secs = divmod(int(float(seconds)), 60)
    line = (
        f"{module:10} mutants {tested + counts['incompetent'] + pending:4}  "
        f"killed {counts['killed']:4}  survived {counts['survived']:3}  "
        f"timeouts {counts['timeout']:3}  incompetent {counts['incompetent']:2}  "
        f"pending {pending:3}  score {score:5.1f}%  time {minutes}m{secs:02d}s  "
        f"(skipped by filters: {counts['skipped']})"
    )
    print(line)
    with Path(report).open("a") as out:
        out.write(f"\n{'=' * 100}\n{line}\n")
        for item, result in sorted(done, key=lambda d: d[0].mutations[0].start_pos):
            if outcome(result) in ("survived", "incompetent"):
                for m in item.mutations:
                    out.write(
                        f"\n--- {outcome(result).upper()} {m.module_path}:{m.start_pos[0]} "
                        f"{m.operator_name} (occurrence {m.occurrence})\n"
                    )
                out.write((result.diff or result.output or "").rstrip() + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
