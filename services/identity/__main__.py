"""`python -m services.identity [serve | rotate-keys]`: serve until SIGTERM (the default),
or rotate the token signing key and exit."""

from __future__ import annotations

import argparse

from services.identity.bootstrap import bootstrap
from services.identity.config import IdentitySettings
from services.identity.entrypoints.cli import rotate_keys_command
from services.runtime.process import run_service


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.identity")
    parser.add_argument("command", nargs="?", choices=("serve", "rotate-keys"), default="serve")
    if parser.parse_args(argv).command == "rotate-keys":
        rotate_keys_command()
    else:
        run_service(IdentitySettings, bootstrap)


if __name__ == "__main__":
    main()
