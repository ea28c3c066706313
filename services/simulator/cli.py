"""`python -m services.simulator`: the command line of the courier simulator."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from urllib.parse import urlsplit

from services.simulator.city import CITIES, BoundingBox
from services.simulator.report import table
from services.simulator.settings import SimulationSettings
from services.simulator.simulation import SimulationFailed, simulate
from services.simulator.vehicles import VehicleMix

DEFAULT_EDGE = "http://127.0.0.1:8080"
DEFAULT_VEHICLE_MIX = "bicycle=0.6,motorbike=0.3,car=0.1"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m services.simulator",
        description="Simulated couriers and customers driving the Lastmile mesh through the edge"
        " (needs `make run`). Reruns with the same --seed reuse the same accounts.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--edge", default=DEFAULT_EDGE, help="the edge's REST base URL")
    add("--grpc-target", help="host:port for native gRPC; unset means the edge's host and port")
    add("--couriers", type=int, default=20, help="simulated couriers, one session each")
    add("--customers", type=int, default=5, help="simulated customers creating deliveries")
    add("--rate", type=float, default=1.0, help="deliveries per second, all customers together")
    add("--duration", type=float, default=60.0, help="seconds of creating deliveries")
    add("--drain-timeout", type=float, default=120.0,
        help="then wait at most this long for open deliveries to finish")  # fmt: skip
    add("--connect-timeout", type=float, default=30.0,
        help="give up if no courier has a session by then")  # fmt: skip
    add("--city", choices=sorted(CITIES), default="berlin", help="where the simulation happens")
    add("--bbox", type=_bbox, help="lat1,lng1,lat2,lng2: a custom area instead of --city")
    add("--speedup", type=float, default=10.0, help="simulated travel runs this many times faster")
    add("--accept-probability", type=float, default=0.9, help="chance a courier accepts an offer")
    add("--ping-interval", type=float, default=2.0, help="seconds between location updates")
    add("--seed", type=int, default=42, help="random seed; also names the accounts")
    add("--vehicle-mix", type=_vehicle_mix, default=DEFAULT_VEHICLE_MIX,
        help="relative weights of the couriers' vehicles")  # fmt: skip
    add("--json", type=Path, dest="json_path", help="also write the final statistics here")
    add("--quiet", action="store_true", help="no live status line")
    add("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="what the agents log on stderr")  # fmt: skip
    return parser


def _bbox(text: str) -> BoundingBox:
    try:
        return BoundingBox.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _vehicle_mix(text: str) -> VehicleMix:
    try:
        return VehicleMix.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_arguments(argv: list[str] | None = None) -> tuple[SimulationSettings, str]:
    """The run's settings and the log level; exits with a usage message on bad flags."""
    parser = _parser()
    args = parser.parse_args(argv)
    edge = args.edge.rstrip("/")
    parts = urlsplit(edge)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        parser.error(f"--edge must be an http(s) URL, got {args.edge!r}")
    default_port = 443 if parts.scheme == "https" else 80
    grpc_target = args.grpc_target or f"{parts.hostname}:{parts.port or default_port}"
    try:
        settings = SimulationSettings(
            edge=edge, grpc_target=grpc_target, couriers=args.couriers, customers=args.customers,
            rate=args.rate, duration=args.duration, drain_timeout=args.drain_timeout,
            connect_timeout=args.connect_timeout, box=args.bbox or CITIES[args.city],
            speedup=args.speedup,
            accept_probability=args.accept_probability, ping_interval=args.ping_interval,
            seed=args.seed, vehicle_mix=args.vehicle_mix, json_path=args.json_path,
            quiet=args.quiet,
        )  # fmt: skip
    except ValueError as error:
        parser.error(str(error))
    return settings, args.log_level


async def _run(settings: SimulationSettings) -> int:
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, interrupted.set)
    try:
        summary = await simulate(settings, interrupted)
    except SimulationFailed as failure:
        print(f"simulator: {failure}", file=sys.stderr)
        return 2
    print(table(summary))
    if settings.json_path is not None:
        settings.json_path.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"\nstatistics written to {settings.json_path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    settings, log_level = parse_arguments(argv)
    logging.basicConfig(
        level=log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # One line per HTTP request drowns everything else; failures are counted anyway.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLevelName(log_level)))
    return asyncio.run(_run(settings))
