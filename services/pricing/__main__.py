"""`python -m services.pricing`: run the pricing service until SIGTERM."""

from __future__ import annotations

from services.pricing.bootstrap import bootstrap
from services.pricing.config import PricingSettings
from services.runtime.process import run_service

if __name__ == "__main__":
    run_service(PricingSettings, bootstrap)
