"""What every benchmark is given (the load shape) and what it registers (name and entry)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class LoadShape:
    """How hard, how long and where to drive a server; shared by all load benchmarks."""

    rounds: int = 3
    duration_seconds: float = 8.0
    warm_up_seconds: float = 2.0
    threads: int = 1
    clients: int = 8
    streams_per_client: int = 16
    # taskset CPU lists; empty means "do not pin". Separate CPUs keep the load generator
    # from stealing cycles from the server it measures.
    server_cpus: str = "0"
    load_cpus: str = "1"
    # Courier benchmarks (live-fleet, dispatch-latency).
    sessions: int = 10_000  # live-fleet: concurrent courier sessions
    ping_seconds: float = 1.0  # live-fleet: one location fix per session this often
    ramp_per_second: float = 500.0  # sessions opened per second while ramping up
    load_processes: int = 0  # live-fleet: load generator processes; 0 = one per 2,500 sessions
    couriers: int = 1_000  # dispatch-latency: idle couriers online
    deliveries_per_second: float = 300.0  # dispatch-latency: create rate
    cost_rate: float = 25.0  # delivery-cost: create rate, well under saturation
    cost_couriers: int = 200  # delivery-cost: couriers online
    # delivery-cost: the traces sampled; the deployed ratio (deploy/k8s), as runtime-overhead
    cost_sample_ratio: float = 0.01
    soak_minutes: float = 30.0  # soak: how long
    soak_rate: float = 0.0  # soak: creates/s; 0 = half the capacity a short probe measures

    def describe(self) -> str:
        return (
            f"h2load -t {self.threads} -c {self.clients} -m {self.streams_per_client}, "
            f"{self.rounds} rounds x {self.duration_seconds:g} s "
            f"(+{self.warm_up_seconds:g} s warm-up each), "
            f"server on CPU {self.server_cpus or 'any'}, h2load on CPU {self.load_cpus or 'any'}"
        )


@dataclass(frozen=True)
class Benchmark:
    """One entry of the catalogue: `run` prints its own report and raises on a bad run."""

    name: str
    summary: str
    run: Callable[[LoadShape], None]
    # External load tools it needs on PATH; checked only when it is selected.
    tools: tuple[str, ...] = ("h2load",)
    # Part of a run that names no benchmark; a long one (the soak) runs only when named.
    by_default: bool = True
