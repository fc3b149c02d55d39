"""The issue's targets, judged on the figures of one full run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.shapes import ISSUE_SIZES, shape_label

MB = 2**20
_OVER_FLOOR = "promoter_over_floor"


@dataclass(frozen=True)
class Target:
    """One target: a figure of the run and the bound it must meet."""

    scenario: str
    text: str
    value: float | None  # None: not measured in this run
    limit: float
    at_most: bool = True

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value <= self.limit if self.at_most else self.value >= self.limit

    @property
    def bound(self) -> str:
        return f"{'<=' if self.at_most else '>='} {self.limit:g}"

    @property
    def verdict(self) -> str:
        return {True: "MET", False: "MISSED", None: "n/a"}[self.met]

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "target": self.text,
            "value": self.value,
            "bound": self.bound,
            "verdict": self.verdict,
        }


def judge(scenarios: dict[str, Any]) -> list[Target]:
    """Every target, with the figure this run measured for it."""
    get = _getter(scenarios)
    small = get("warm", "small", "promoter", "median")
    large = get("warm", "large", "promoter", "median")
    cold_large = get("cold", "first_event", "median") if get("cold", "repo") == "large" else None
    peak = get("contention", "peak_rss_bytes", "max")
    lost = get("contention", "lost_updates")
    anchor = get("warm", "large", "fresh_clone_over_promoter")
    return [
        Target("1", "promoter / floor, small repo", get("warm", "small", _OVER_FLOOR), 1.5),
        Target("1", "promoter / floor, large repo", get("warm", "large", _OVER_FLOOR), 1.5),
        Target("1", "large / small promoter median", _div(large, small), 1.3),
        Target("2", "anchor / promoter, large repo", anchor, 3.0, at_most=False),
        Target("3", "function module import, median s", get("cold", "import", "median"), 0.4),
        Target("3", "first event on the large repo, median s", cold_large, 1.5),
        Target("4", "publish -> visible commit, median s", get("e2e", "latency", "median"), 0.6),
        Target("5", "throughput / serial floor", get("contention", "ratio_to_floor"), 0.5, False),
        Target("5", "lost updates (asserted)", lost, 0),
        Target("6", "peak RSS of a promoter process, MB", None if peak is None else peak / MB, 120),
        *(_shape_targets(get) if "shapes" in scenarios else []),
    ]


def _shape_targets(get: Callable[..., Any]) -> list[Target]:
    """Scenario 7's, listed only when it ran; each judged at the size the issue measured."""
    targets = []
    for name, bound in (("families", 1.0), ("rendered", 1.5)):
        size = ISSUE_SIZES[name]
        shape = shape_label(name, size)
        over = get("shapes", name, "sizes", str(size), _OVER_FLOOR)
        measured = get("shapes", name, "cold", "size") == size
        first = get("shapes", name, "cold", "first_event", "median") if measured else None
        peak = get("shapes", name, "cold", "peak_rss_bytes", "max") if measured else None
        targets += [
            Target("7", f"{shape}: promoter / floor", over, bound),
            Target("7", f"{shape}: first event, median s", first, 1.5),
            Target("7", f"{shape}: first event, peak RSS MB", _div(peak, MB), 120),
        ]
    return targets


def exit_status(targets: list[Target]) -> int:
    """1 when any measured target is missed, else 0 (a target not measured is not judged)."""
    return 1 if any(t.met is False for t in targets) else 0


def _getter(scenarios: dict[str, Any]) -> Callable[..., Any]:
    def get(*keys: str) -> Any:
        value: Any = scenarios
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return value

    return get


def _div(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a / b
