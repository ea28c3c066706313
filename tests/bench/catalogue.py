"""Every benchmark by name; add a new one here and it is runnable and listed in --help."""

from __future__ import annotations

from tests.bench.benchmark import Benchmark
from tests.bench.create_delivery import CREATE_DELIVERY, CREATE_DELIVERY_QUOTED
from tests.bench.create_delivery_rest import CREATE_DELIVERY_REST
from tests.bench.delivery_cost import DELIVERY_COST
from tests.bench.dispatch_latency import DISPATCH_LATENCY
from tests.bench.edge_vs_direct import EDGE_VS_DIRECT
from tests.bench.event_pipeline import EVENT_PIPELINE
from tests.bench.live_fleet import LIVE_FLEET
from tests.bench.replicas import REPLICAS
from tests.bench.runtime_overhead import RUNTIME_OVERHEAD
from tests.bench.runtime_pieces import RUNTIME_PIECES
from tests.bench.sidecar_overhead import SIDECAR_OVERHEAD
from tests.bench.soak import SOAK

BENCHMARKS: dict[str, Benchmark] = {
    benchmark.name: benchmark
    for benchmark in (
        RUNTIME_OVERHEAD,
        RUNTIME_PIECES,
        CREATE_DELIVERY,
        CREATE_DELIVERY_QUOTED,
        EDGE_VS_DIRECT,
        CREATE_DELIVERY_REST,
        SIDECAR_OVERHEAD,
        LIVE_FLEET,
        EVENT_PIPELINE,
        DISPATCH_LATENCY,
        DELIVERY_COST,
        SOAK,
        REPLICAS,
    )
}
