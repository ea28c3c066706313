"""`python -m gateway.sidecar write-k8s [--check]`: render every service's sidecar for
Kubernetes into deploy/k8s/base/<service>/sidecar/ (envoy.yaml and its SDS resource files), or
fail if the committed files drifted."""

from __future__ import annotations

import argparse
import sys

from gateway.sidecar.kubernetes import drifted_sidecars, write_k8s_sidecars


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.sidecar", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    write = commands.add_parser("write-k8s", help="render the sidecars' Kubernetes configs")
    write.add_argument("--check", action="store_true", help="only report drift; write nothing")
    args = parser.parse_args(argv)
    if args.check:
        drifted = drifted_sidecars()
        for path in drifted:
            print(
                f"drifted: {path} (run `make k8s-sidecars` or "
                "`python -m gateway.sidecar write-k8s`)",
                file=sys.stderr,
            )
        return 1 if drifted else 0
    for path in write_k8s_sidecars():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
