"""Medians and 90th percentiles of repeated runs, measured side by side."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    """Seconds (or any unit) over repeated runs: median and p90 (nearest rank)."""

    median: float
    p90: float
    samples: tuple[float, ...]

    @classmethod
    def of(cls, samples: Iterable[float]) -> Figure:
        ordered = tuple(sorted(samples))
        if not ordered:
            raise ValueError("a figure needs at least one sample")
        p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
        return cls(statistics.median(ordered), p90, ordered)

    @property
    def runs(self) -> int:
        return len(self.samples)

    def to_json(self) -> dict[str, Any]:
        return {
            "median": self.median,
            "p90": self.p90,
            "runs": self.runs,
            "min": self.samples[0],
            "max": self.samples[-1],
            "samples": list(self.samples),
        }


def measure(
    cycles: Mapping[str, Callable[[], None]], *, warmup: int, runs: int
) -> dict[str, Figure]:
    """Seconds per cycle of each of `cycles`, run in turn so that noise hits all of them alike."""
    for _ in range(warmup):
        for cycle in cycles.values():
            cycle()
    times: dict[str, list[float]] = {name: [] for name in cycles}
    for _ in range(runs):
        for name, cycle in cycles.items():
            started = time.perf_counter()
            cycle()
            times[name].append(time.perf_counter() - started)
    return {name: Figure.of(samples) for name, samples in times.items()}
