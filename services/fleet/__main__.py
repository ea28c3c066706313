"""`python -m services.fleet`: run the fleet service until SIGTERM;
`python -m services.fleet migrate`: apply pending migrations and exit."""

from __future__ import annotations

import sys

from services.fleet.bootstrap import MIGRATIONS, bootstrap
from services.fleet.config import FleetSettings
from services.runtime.config import load_settings
from services.runtime.database import upgrade_to_head
from services.runtime.process import run_service

if __name__ == "__main__":
    if sys.argv[1:] == ["migrate"]:
        upgrade_to_head(load_settings(FleetSettings).database_url, MIGRATIONS)
    elif sys.argv[1:]:
        sys.exit(f"usage: python -m services.fleet [migrate]; got {' '.join(sys.argv[1:])!r}")
    else:
        run_service(FleetSettings, bootstrap)
