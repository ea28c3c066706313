"""`python -m services.tracking`: run the tracking service until SIGTERM."""

from __future__ import annotations

from services.runtime.process import run_service
from services.tracking.bootstrap import bootstrap
from services.tracking.config import TrackingSettings

if __name__ == "__main__":
    run_service(TrackingSettings, bootstrap)
