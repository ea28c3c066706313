"""pricing's CreateQuote served in one of two ways, for the runtime-overhead benchmark.

`bare` is the floor: a plain grpc.aio server on asyncio's loop with the real
PricingServicer and nothing else. `lastmile` is production's wiring (run_service's loop
and gc.freeze, bootstrap → ServiceHost, every interceptor, metrics, JSON access logs at
INFO on stderr, tracing head-sampled at the Kubernetes ratio) with spans batch-processed
into an exporter that drops them, so that tracing costs what it costs without a collector.

    python -m tests.bench.pricing_server --mode bare|lastmile --port N [--loop asyncio|uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
from collections.abc import Sequence
from datetime import timedelta

import grpc
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from lastmile.pricing.v1 import pricing_pb2_grpc
from services.pricing.adapters.jwt_quote_signer import JwtQuoteSigner
from services.pricing.adapters.quote_key_ring import QuoteKeyRing
from services.pricing.bootstrap import bootstrap
from services.pricing.config import PricingSettings
from services.pricing.domain.tariff import Tariff
from services.pricing.entrypoints.grpc_servicers import PricingServicer
from services.pricing.service_layer.handlers import QuoteHandlers
from services.runtime import tracing
from services.runtime.clock import system_clock
from services.runtime.config import load_settings
from services.runtime.logs import configure_logging
from services.runtime.process import new_event_loop

BARE_SHUTDOWN_GRACE_SECONDS = 5.0
# LASTMILE_<SERVICE>_TRACE_SAMPLE_RATIO in deploy/k8s/base/<service>/config.env.
PRODUCTION_TRACE_SAMPLE_RATIO = 0.01


class DiscardingSpanExporter(SpanExporter):
    """Accepts every batch and sends it nowhere: span creation and batching still happen."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def quote_handlers(settings: PricingSettings) -> QuoteHandlers:
    """The same handlers `services.pricing.bootstrap.bootstrap` builds."""
    return QuoteHandlers(
        tariff=Tariff(currency=settings.currency),
        # Development settings name no key file: bootstrap signs with a generated key too.
        signer=JwtQuoteSigner(QuoteKeyRing.ephemeral()),
        clock=system_clock,
        validity=timedelta(seconds=settings.quote_validity_seconds),
    )


async def serve_bare(port: int) -> None:
    server = grpc.aio.server()
    pricing_pb2_grpc.add_PricingServiceServicer_to_server(
        PricingServicer(quote_handlers(PricingSettings())), server
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop_requested.set)
    await stop_requested.wait()
    await server.stop(BARE_SHUTDOWN_GRACE_SECONDS)


async def serve_lastmile(port: int) -> None:
    # Mirrors services.runtime.process.run_service; only the exporter differs. The sample
    # ratio is the one the Kubernetes config gives every service.
    settings = load_settings(
        PricingSettings,
        grpc_port=port,
        admin_port=0,
        log_level="INFO",
        trace_sample_ratio=PRODUCTION_TRACE_SAMPLE_RATIO,
    )
    configure_logging(PricingSettings.service_name, settings.log_level)
    tracing.configure_tracing(
        PricingSettings.service_name,
        None,
        sample_ratio=settings.trace_sample_ratio,
        exporter=DiscardingSpanExporter(),
    )
    host = bootstrap(settings)
    await host.start()
    gc.freeze()
    await host.serve_until_stopped()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mode", choices=("bare", "lastmile"), required=True)
    parser.add_argument("--port", type=int, required=True)
    # Default: asyncio's loop for the bare server, the runtime's (uvloop) for lastmile.
    parser.add_argument("--loop", choices=("asyncio", "uvloop"))
    arguments = parser.parse_args(argv)
    serve = serve_bare if arguments.mode == "bare" else serve_lastmile
    loop = arguments.loop or ("asyncio" if arguments.mode == "bare" else "uvloop")
    loop_factory = new_event_loop if loop == "uvloop" else None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve(arguments.port))


if __name__ == "__main__":
    main()
