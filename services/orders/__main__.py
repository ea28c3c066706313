"""`python -m services.orders`: run the orders service until SIGTERM;
`python -m services.orders migrate`: apply pending migrations and exit."""

from __future__ import annotations

import sys

from services.orders.bootstrap import MIGRATIONS, bootstrap
from services.orders.config import OrdersSettings
from services.runtime.config import load_settings
from services.runtime.database import upgrade_to_head
from services.runtime.process import run_service

if __name__ == "__main__":
    if sys.argv[1:] == ["migrate"]:
        upgrade_to_head(load_settings(OrdersSettings).database_url, MIGRATIONS)
    elif sys.argv[1:]:
        sys.exit(f"usage: python -m services.orders [migrate]; got {' '.join(sys.argv[1:])!r}")
    else:
        run_service(OrdersSettings, bootstrap)
