"""pricing's CreateQuote served in one of two ways, for the runtime-overhead benchmark.

`bare` is the floor: a plain grpc.aio server with the real PricingServicer and nothing
else. `lastmile` is production's wiring (bootstrap → ServiceHost, every interceptor,
metrics, JSON access logs at INFO on stderr, tracing on) with spans batch-processed into
an exporter that drops them, so that tracing costs what it costs without a collector.

    python -m tests.bench.pricing_server --mode bare|lastmile --port N
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Sequence
from datetime import timedelta

import grpc
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from lastmile.pricing.v1 import pricing_pb2_grpc
from services.pricing.adapters.jwt_quote_signer import JwtQuoteSigner
from services.pricing.bootstrap import bootstrap
from services.pricing.config import PricingSettings
from services.pricing.domain.tariff import Tariff
from services.pricing.entrypoints.grpc_servicers import PricingServicer
from services.pricing.service_layer.handlers import QuoteHandlers
from services.runtime import tracing
from services.runtime.clock import system_clock
from services.runtime.config import load_settings
from services.runtime.logs import configure_logging

BARE_SHUTDOWN_GRACE_SECONDS = 5.0


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
        signer=JwtQuoteSigner(settings.quote_signing_key.get_secret_value()),
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
    # Mirrors services.runtime.process.run_service; only the exporter differs.
    settings = load_settings(PricingSettings, grpc_port=port, admin_port=0, log_level="INFO")
    configure_logging(PricingSettings.service_name, settings.log_level)
    tracing.configure_tracing(PricingSettings.service_name, None, exporter=DiscardingSpanExporter())
    host = bootstrap(settings)
    await host.start()
    await host.serve_until_stopped()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mode", choices=("bare", "lastmile"), required=True)
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args(argv)
    serve = serve_bare if arguments.mode == "bare" else serve_lastmile
    asyncio.run(serve(arguments.port))


if __name__ == "__main__":
    main()
