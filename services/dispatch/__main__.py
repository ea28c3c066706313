"""`python -m services.dispatch`: run dispatch until SIGTERM;
`python -m services.dispatch migrate`: apply pending migrations and exit."""

from __future__ import annotations

import sys

from services.dispatch.bootstrap import MIGRATIONS, bootstrap
from services.dispatch.config import DispatchSettings
from services.runtime.config import load_settings
from services.runtime.database import upgrade_to_head
from services.runtime.process import run_service

if __name__ == "__main__":
    if sys.argv[1:] == ["migrate"]:
        upgrade_to_head(load_settings(DispatchSettings).database_url, MIGRATIONS)
    elif sys.argv[1:]:
        sys.exit(f"usage: python -m services.dispatch [migrate]; got {' '.join(sys.argv[1:])!r}")
    else:
        run_service(DispatchSettings, bootstrap)
