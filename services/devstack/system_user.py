"""The unprivileged identity PostgreSQL runs as when we are root (here and in CI): it
refuses to run as root, so a dedicated system user owns its data and runs its binaries."""

from __future__ import annotations

import logging
import os
import pwd
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from services.devstack.errors import DevstackError

log = logging.getLogger("lastmile.devstack")

DEFAULT_SYSTEM_USER = "lastmile-pg"


@dataclass(frozen=True)
class RunAs:
    """Who a child process runs as: a user, its primary group, and no supplementary groups."""

    name: str
    uid: int
    gid: int


def unprivileged_identity(name: str = DEFAULT_SYSTEM_USER) -> RunAs | None:
    """None when we are not root (children simply run as us); otherwise the system user `name`,
    created on first use."""
    if os.geteuid() != 0:
        return None
    return _ensure_system_user(name)


def _ensure_system_user(name: str) -> RunAs:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        created = subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            # Re-read even after a failure: a parallel test worker may have created it first.
            entry = pwd.getpwnam(name)
        except KeyError:
            raise DevstackError(
                f"cannot create system user {name!r} to run PostgreSQL as (it refuses to run "
                f"as root): useradd exited {created.returncode}: {created.stderr.strip()}"
            ) from None
        log.info("created system user %s to run PostgreSQL as", name)
    return RunAs(name=name, uid=entry.pw_uid, gid=entry.pw_gid)


def grant_traversal(path: Path, run_as: RunAs) -> None:
    """Let `run_as` reach `path` by adding search permission (o+x, never read) to each
    ancestor that withholds it, e.g. pytest's 0700 /tmp/pytest-of-root."""
    for directory in path.resolve().parents:
        info = directory.stat()
        if info.st_uid == run_as.uid or info.st_mode & stat.S_IXOTH:
            continue
        directory.chmod(stat.S_IMODE(info.st_mode) | stat.S_IXOTH)
        log.info("added o+x to %s so that %s can reach %s", directory, run_as.name, path)


def give_to(path: Path, run_as: RunAs | None) -> None:
    """Make `run_as` own the directory `path` (not recursively; its contents are its own)."""
    if run_as is not None:
        os.chown(path, run_as.uid, run_as.gid)
