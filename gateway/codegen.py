"""Compiles protos/ into gen/: Python messages, typing stubs, gRPC stubs, the gateway's
descriptor set and the OpenAPI document; with --check, runs the contract checks instead.

    python -m gateway.codegen            # regenerate gen/
    python -m gateway.codegen --check    # buf lint, buf breaking, and gen/ drift
    python -m gateway.codegen --release  # record the current contract as the baseline
"""

from __future__ import annotations

import argparse
import filecmp
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import google.api
import grpc_tools

from gateway import openapi

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
PROTO_DEPS = PROTOS  # google/api and google/rpc land beside lastmile/, git-ignored
BASELINE = PROTOS / "baseline" / "lastmile-v1.binpb"
DESCRIPTOR_SET = Path("descriptors") / "lastmile.binpb"
OPENAPI_DOC = Path("openapi") / "lastmile.openapi.json"
# Not imported by any Lastmile proto, but the gateway needs them to render error details.
EXTRA_DESCRIPTOR_FILES = ("google/rpc/error_details.proto", "google/rpc/status.proto")
BIN = Path(sys.executable).parent


class ContractCheckFailed(Exception):
    """A contract check (lint, breaking change or drift) found a problem."""


# Vendored (committed, with its LICENSE) and compiled with the contract, so that the
# lastmile messages' generated code can import `buf.validate.validate_pb2`.
VENDORED_PROTOS = ("buf/validate/validate.proto",)
# Top-level packages that protoc writes into gen/; each is replaced on every build.
GENERATED_PACKAGES = ("lastmile", "buf")


def lastmile_protos() -> list[str]:
    return sorted(str(p.relative_to(PROTOS)) for p in PROTOS.glob("lastmile/**/*.proto"))


def prepare_proto_deps() -> None:
    """Copy google/api and google/rpc protos from the installed googleapis-common-protos."""
    installed = Path(google.api.__path__[0]).parent
    for package in ("api", "rpc"):
        target = PROTO_DEPS / "google" / package
        target.mkdir(parents=True, exist_ok=True)
        for source in (installed / package).glob("*.proto"):
            if not (target / source.name).exists() or not filecmp.cmp(source, target / source.name):
                shutil.copyfile(source, target / source.name)


def _protoc(args: Iterable[str]) -> None:
    well_known = Path(grpc_tools.__path__[0]) / "_proto"
    command = [
        sys.executable, "-m", "grpc_tools.protoc",
        f"-I{PROTOS}", f"-I{well_known}",
        *args,
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise ContractCheckFailed(f"protoc failed:\n{result.stdout}{result.stderr}")


def generate(out: Path) -> None:
    """Regenerate every artefact into `out`, replacing what was there."""
    prepare_proto_deps()
    for package in GENERATED_PACKAGES:
        if (out / package).exists():
            shutil.rmtree(out / package)
    for artefact in (DESCRIPTOR_SET, OPENAPI_DOC):
        (out / artefact).parent.mkdir(parents=True, exist_ok=True)
    protos = lastmile_protos()
    _protoc([
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--plugin=protoc-gen-mypy={BIN / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={BIN / 'protoc-gen-mypy_grpc'}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *VENDORED_PROTOS,
        *protos,
    ])  # fmt: skip
    _protoc([
        f"--descriptor_set_out={out / DESCRIPTOR_SET}",
        "--include_imports",
        "--include_source_info",
        *protos,
        *EXTRA_DESCRIPTOR_FILES,
    ])  # fmt: skip
    for package in GENERATED_PACKAGES:
        package_root = out / package
        for directory in [package_root, *package_root.rglob("*")]:
            if directory.is_dir():
                (directory / "__init__.py").touch()
        (package_root / "py.typed").touch()
    document = openapi.build_document((out / DESCRIPTOR_SET).read_bytes())
    (out / OPENAPI_DOC).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


def _buf(*args: str) -> None:
    result = subprocess.run([str(BIN / "buf"), *args], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise ContractCheckFailed(f"buf {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


def lint() -> None:
    prepare_proto_deps()
    _buf("lint")


def breaking() -> None:
    prepare_proto_deps()
    _buf("breaking", "--against", str(BASELINE.relative_to(ROOT)))


def drift(committed: Path) -> list[str]:
    """Regenerate into a temporary folder; return the paths that differ from `committed`."""
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch)
        generate(fresh)
        return sorted(_differences(fresh, committed, Path()))


def _differences(left: Path, right: Path, relative: Path) -> Iterable[str]:
    comparison = filecmp.dircmp(left / relative, right / relative, ignore=["__pycache__"])
    for name in comparison.left_only + comparison.right_only:
        yield str(relative / name)
    for name in comparison.common_files:
        if not filecmp.cmp(left / relative / name, right / relative / name, shallow=False):
            yield str(relative / name)
    for name in comparison.common_dirs:
        yield from _differences(left, right, relative / name)


def release_baseline() -> None:
    prepare_proto_deps()
    BASELINE.parent.mkdir(parents=True, exist_ok=True)
    _buf("build", "--path", "protos/lastmile", "-o", str(BASELINE.relative_to(ROOT)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "gen")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="lint, breaking and drift checks")
    mode.add_argument("--release", action="store_true", help="write the breaking baseline")
    args = parser.parse_args(argv)
    if args.release:
        release_baseline()
        print(f"baseline written to {BASELINE.relative_to(ROOT)}")
        return 0
    if not args.check:
        generate(args.out)
        return 0
    failures: list[str] = []
    for name, check in (("buf lint", lint), ("buf breaking", breaking)):
        try:
            check()
            print(f"ok    {name}")
        except ContractCheckFailed as failure:
            failures.append(str(failure))
            print(f"FAIL  {name}")
    changed = drift(args.out)
    if changed:
        failures.append("gen/ is stale; run `make proto`. Differs: " + ", ".join(changed))
        print("FAIL  gen/ drift")
    else:
        print("ok    gen/ matches protos/")
    for problem in failures:
        print(problem, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
