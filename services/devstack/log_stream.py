"""The combined terminal log of the local stack: follows every component's log file and
prints each new line once, prefixed with the component, JSON lines made readable."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TextIO

_COLOURS = ("36", "33", "35", "32", "34", "31", "96", "93")
# Fields every runtime log line has; the rest are shown as key=value.
_SHOWN_ELSEWHERE = {"time", "level", "service", "logger", "message"}


def readable(line: str) -> str:
    """A JSON log line as `HH:MM:SS level message key=value ...`; other lines unchanged."""
    try:
        entry = json.loads(line)
    except ValueError:
        return line
    if not isinstance(entry, dict):
        return line
    extras = " ".join(
        f"{key}={value}" for key, value in entry.items() if key not in _SHOWN_ELSEWHERE
    )
    clock = str(entry.get("time", ""))[11:19]
    return f"{clock} {entry.get('level', ''):<7} {entry.get('message', '')} {extras}".rstrip()


class LogStream:
    """Tails files from their size at `follow()` time; runs until cancelled."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self._out = out
        self._colour = out.isatty()
        self._files: dict[str, tuple[Path, int]] = {}

    def follow(self, name: str, path: Path) -> None:
        """Start following `path` from its current end; a second call is a no-op."""
        if name in self._files:
            return
        offset = path.stat().st_size if path.exists() else 0
        self._files[name] = (path, offset)

    def _prefix(self, name: str) -> str:
        width = max((len(n) for n in self._files), default=8)
        label = f"{name:<{width}} |"
        if not self._colour:
            return label
        colour = _COLOURS[sorted(self._files).index(name) % len(_COLOURS)]
        return f"\033[{colour}m{label}\033[0m"

    def pump(self) -> None:
        """Print whatever complete lines were appended since the last call."""
        for name, (path, offset) in list(self._files.items()):
            try:
                with path.open("rb") as source:
                    source.seek(offset)
                    chunk = source.read()
            except FileNotFoundError:
                continue
            complete = chunk.rfind(b"\n") + 1
            if not complete:
                continue
            self._files[name] = (path, offset + complete)
            for raw in chunk[:complete].decode(errors="replace").splitlines():
                self._out.write(f"{self._prefix(name)} {readable(raw)}\n")
        self._out.flush()

    async def run(self, interval: float = 0.2) -> None:
        while True:
            self.pump()
            await asyncio.sleep(interval)
