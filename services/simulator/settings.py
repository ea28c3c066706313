"""Everything one simulation run is told on the command line, validated once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.simulator.city import BoundingBox
from services.simulator.vehicles import VehicleMix


@dataclass(frozen=True)
class SimulationSettings:
    """A run: where the edge is, how big the city's population is, and for how long."""

    edge: str
    grpc_target: str
    couriers: int
    customers: int
    rate: float
    duration: float
    drain_timeout: float
    connect_timeout: float
    box: BoundingBox
    speedup: float
    accept_probability: float
    ping_interval: float
    seed: int
    vehicle_mix: VehicleMix
    json_path: Path | None
    quiet: bool

    def __post_init__(self) -> None:
        checks = {
            "--couriers must be at least 1": self.couriers >= 1,
            "--customers must not be negative": self.customers >= 0,
            "--rate must be positive": self.rate > 0,
            "--duration must not be negative": self.duration >= 0,
            "--drain-timeout must not be negative": self.drain_timeout >= 0,
            "--connect-timeout must be positive": self.connect_timeout > 0,
            "--speedup must be positive": self.speedup > 0,
            "--accept-probability must be between 0 and 1": 0 <= self.accept_probability <= 1,
            "--ping-interval must be positive": self.ping_interval > 0,
        }
        failed = [message for message, ok in checks.items() if not ok]
        if failed:
            raise ValueError("; ".join(failed))
