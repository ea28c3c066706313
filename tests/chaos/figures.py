"""The counted invariants of one fault test (cases, lost, duplicated, events, 5xx seen),
kept in the order they were recorded so that every run prints them the same way."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FaultFigures:
    """Named counts for one test; `record` them as they are established."""

    test: str
    counts: dict[str, object] = field(default_factory=dict)

    def record(self, **counts: object) -> None:
        self.counts.update(counts)

    def line(self) -> str:
        shown = " ".join(f"{name}={value}" for name, value in self.counts.items())
        return f"{self.test}: {shown or '(nothing counted)'}"
