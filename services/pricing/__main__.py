"""`python -m services.pricing [serve | generate-quote-key]`: serve until SIGTERM (the
default), or print a new Ed25519 quote signing key as PEM, for the key file."""

from __future__ import annotations

import argparse
import sys

from services.pricing.adapters.quote_key_ring import generate_pem
from services.pricing.bootstrap import bootstrap
from services.pricing.config import PricingSettings
from services.runtime.process import run_service


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.pricing")
    parser.add_argument(
        "command", nargs="?", choices=("serve", "generate-quote-key"), default="serve"
    )
    if parser.parse_args(argv).command == "generate-quote-key":
        sys.stdout.buffer.write(generate_pem())
    else:
        run_service(PricingSettings, bootstrap)


if __name__ == "__main__":
    main()
