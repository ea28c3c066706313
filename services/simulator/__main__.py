"""`python -m services.simulator` — what `make simulate` runs."""

import sys

from services.simulator.cli import main

if __name__ == "__main__":
    sys.exit(main())
