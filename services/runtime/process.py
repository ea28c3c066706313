"""The `__main__` of every service: load settings, configure observability, serve."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from typing import TypeVar

import uvloop

from services.runtime import tracing
from services.runtime.config import ServiceSettings, load_settings
from services.runtime.logs import configure_logging
from services.runtime.server import ServiceHost

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def run_service(
    settings_class: type[SettingsT], bootstrap: Callable[[SettingsT], ServiceHost]
) -> None:
    """Exits with a message naming the variable on bad config; 0 after a clean drain."""
    settings = load_settings(settings_class)
    configure_logging(
        settings_class.service_name, settings.log_level, flush_seconds=settings.log_flush_seconds
    )
    tracing.configure_tracing(
        settings_class.service_name,
        settings.otlp_endpoint,
        sample_ratio=settings.trace_sample_ratio,
    )

    async def serve() -> None:
        host = bootstrap(settings)
        await host.start()
        # Everything alive now (modules, descriptors, pools) lives as long as the process;
        # freezing it keeps the collector from walking it again in every full collection,
        # whose pauses otherwise grow with the heap and stall every stream on the loop.
        gc.freeze()
        await host.serve_until_stopped()

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(serve())


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop: grpc.aio runs on any asyncio loop (its poller thread wakes the
    loop through a socket), and on uvloop a service serves more calls per CPU second
    (`make bench`, runtime-overhead)."""
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop
