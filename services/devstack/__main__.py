"""`python -m services.devstack run|stop|status` — what `make run`, `make stop` and
`make status` call."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import fields
from pathlib import Path
from urllib.parse import urlsplit

from gateway.edge import Address
from services.devstack.components import (
    REPLICA_PORT_STEP_VARIABLE,
    REPLICAS_VARIABLE,
    SERVICES,
    Ports,
    Replicas,
)
from services.devstack.errors import DevstackError
from services.devstack.launcher import REPO, LocalMesh, reset_state
from services.devstack.log_stream import LogStream
from services.devstack.process_identity import is_same_process
from services.devstack.restart_policy import RESTART_VARIABLE, RestartPolicy
from services.devstack.run_file import ComponentRecord, RunRecord
from services.devstack.shutdown import stop_mesh
from services.devstack.sidecars import LocalSidecars, MeshMode, default_port_base
from services.shared_kernel.regions import SHIPPED_REGIONS_FILE

DEFAULT_STATE = REPO / ".state"


def _ports(args: argparse.Namespace) -> Ports:
    chosen = {}
    for port in fields(Ports):
        flag = getattr(args, f"{port.name}_port")
        if flag is not None:
            chosen[port.name] = flag
    return Ports(**chosen)


def _banner(mesh: LocalMesh) -> str:
    edge = f"http://127.0.0.1:{mesh.ports.edge}"
    lines = [
        "",
        "Lastmile is running.",
        f"  REST API     {edge}/v1/...",
        f"  gRPC         127.0.0.1:{mesh.ports.edge} (native gRPC through the edge)",
        f"  API docs     {edge}/docs   (OpenAPI: {edge}/openapi.json)",
        f"  state        {mesh.state_dir}  (fresh start: make run FRESH=1)",
        f"  restarts     {mesh.restart_policy}"
        + (
            ""
            if mesh.restart_policy is RestartPolicy.NEVER
            else " (a component that exits comes back after a backoff; make status shows restarts)"
        ),
    ]
    if mesh.sidecars is not None:
        lines.append(
            f"  mesh         Envoy sidecars, mTLS + RBAC (certificates: {mesh.sidecars.certs_dir})"
        )
    if mesh.replicas.counts:
        lines.append(
            f"  replicas     {mesh.replicas} (replica k on the service's ports + "
            f"{mesh.replicas.port_step} k; balanced per request)"
        )
    lines.append("")
    width = max((len(component.name) for component in mesh.components), default=10)
    for component in mesh.components:
        lines.append(
            f"  {component.name:<{width}} ok   pid {component.pid!s:<8} {component.address:<27}"
            f" log {component.log_path}"
        )
    lines += ["", "Ctrl-C (or `make stop`) stops everything.", ""]
    return "\n".join(lines)


def _collector(endpoint: str) -> Address:
    """An OTLP/gRPC endpoint as the services' exporter takes it: host:port or http://host:port."""
    parsed = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    try:
        port = parsed.port
    except ValueError:
        port = None
    if parsed.scheme != "http" or not parsed.hostname or port is None:
        raise argparse.ArgumentTypeError(f"{endpoint!r} is not host:port or http://host:port")
    return Address(parsed.hostname, port)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


async def run(args: argparse.Namespace) -> int:
    mesh = LocalMesh(
        args.state_dir,
        _ports(args),
        restart_policy=args.restart,
        otlp_endpoint=args.otlp_endpoint,
        logins_per_minute=args.logins_per_minute,
        replicas=args.replicas,
        regions_file=args.regions_file,
    )
    if args.mesh == MeshMode.SIDECARS:
        mesh.sidecars = LocalSidecars(
            args.state_dir, mesh.ports, args.sidecar_port_base, replicas=args.replicas
        )
    if args.only:
        wanted = set(args.only.split(","))
        mesh.services = tuple(spec for spec in SERVICES if spec.name in wanted)
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop_requested.set)
    stream = LogStream()
    tail = asyncio.create_task(stream.run())
    exit_code = 0
    try:
        starting = asyncio.create_task(_start_following(mesh, stream))
        done, _ = await asyncio.wait(
            {starting, asyncio.create_task(stop_requested.wait())},
            return_when=asyncio.FIRST_COMPLETED,
        )
        if starting not in done:
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, DevstackError):
                await starting
            return 130
        starting.result()
        stream.pump()
        print(_banner(mesh), flush=True)
        await stop_requested.wait()
    except DevstackError as failure:
        stream.pump()
        print(f"\nlastmile: {failure}", file=sys.stderr, flush=True)
        exit_code = 1
    finally:
        if mesh.supervisor.gave_up:
            exit_code = 1
        print("\nstopping ...", flush=True)
        await mesh.stop()
        stream.pump()
        tail.cancel()
        print("stopped.", flush=True)
    return exit_code


async def _start_following(mesh: LocalMesh, stream: LogStream) -> None:
    """Start the mesh, following each component's log as soon as it exists."""
    task = asyncio.create_task(mesh.start())
    while not task.done():
        for component in mesh.components:
            stream.follow(component.name, component.log_path)
        await asyncio.sleep(0.1)
    for component in mesh.components:
        stream.follow(component.name, component.log_path)
    await task


def stop(args: argparse.Namespace) -> int:
    stopped = asyncio.run(stop_mesh(Path(args.state_dir).resolve()))
    return 0 if stopped else 1


def status(args: argparse.Namespace) -> int:
    record = RunRecord.read(Path(args.state_dir))
    if record is None:
        print("lastmile is not running")
        return 1
    launcher = is_same_process(record.supervisor_pid, record.supervisor_start_time)
    if launcher:
        print(f"lastmile is running: launcher pid {record.supervisor_pid}, "
              f"restart policy {record.restart_policy}")  # fmt: skip
    else:
        print(f"the launcher (pid {record.supervisor_pid}) is gone; what it left running is "
              "shown below (make stop stops it)")  # fmt: skip
    width = max((len(c.name) for c in record.components), default=10)
    healthy = launcher
    for component in record.components:
        state = _observed_state(component)
        healthy &= state == "up"
        pid = component.pid or "-"
        print(f"  {component.name:<{width}} {state:<10} pid {pid!s:<8} restarts "
              f"{component.restarts:<3} {component.address:<27} log {component.log}")  # fmt: skip
        if component.last_exit:
            when = component.last_exit_time
            print(f"  {'':<{width}} last exit: {component.last_exit} at {when}")
    return 0 if healthy else 1


def _observed_state(component: ComponentRecord) -> str:
    """The recorded state, unless its process is gone (the launcher was killed)."""
    if component.pid is None or is_same_process(component.pid, component.pid_start_time):
        return component.state
    return "gone"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.devstack", description=__doc__)
    parser.add_argument("--state-dir", default=os.environ.get("LASTMILE_STATE_DIR", DEFAULT_STATE))
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="start the whole mesh in the foreground")
    run_parser.add_argument("--fresh", action="store_true", help="delete earlier data first")
    run_parser.add_argument("--only", help="start only these services (comma-separated)")
    run_parser.add_argument(
        "--mesh", choices=list(MeshMode), default=os.environ.get("LASTMILE_MESH", "direct"),
        help="direct: services call each other in plaintext; sidecars: through Envoy sidecars "
        "with mTLS and RBAC, as in Kubernetes (or $LASTMILE_MESH)",
    )  # fmt: skip
    run_parser.add_argument(
        "--restart", type=RestartPolicy, choices=list(RestartPolicy),
        default=RestartPolicy.from_environment(),
        help="what to do when a component exits: start it again after a backoff of 1 s, 2 s, "
        f"4 s ... at most 30 s (always, on-failure) or leave it down (never); default always, "
        f"or ${RESTART_VARIABLE}",
    )  # fmt: skip
    run_parser.add_argument(
        "--sidecar-port-base", type=int, default=default_port_base(),
        help="first of the port blocks (100 per service) that sidecars and apps use in "
        f"sidecar mode (default {default_port_base()}, or $LASTMILE_SIDECAR_PORT_BASE)",
    )  # fmt: skip
    run_parser.add_argument(
        "--regions-file", type=Path,
        default=Path(os.environ.get("LASTMILE_REGIONS_FILE", SHIPPED_REGIONS_FILE)),
        help="the service regions file that orders and pricing read (or $LASTMILE_REGIONS_FILE;"
        " default: the shipped one, a region per simulator city)",
    )  # fmt: skip
    run_parser.add_argument(
        "--otlp-endpoint", type=_collector, default=os.environ.get("LASTMILE_OTLP_ENDPOINT"),
        help="an OTLP/gRPC trace collector (host:port): every service exports its spans there "
        "and the edge traces every request (or $LASTMILE_OTLP_ENDPOINT; default: no tracing)",
    )  # fmt: skip
    run_parser.add_argument(
        "--logins-per-minute", type=_positive,
        default=int(os.environ.get("LASTMILE_EDGE_LOGINS_PER_MINUTE", "20")),
        help="the edge's log-in rate limit; raise it for big simulations "
        "(default 20, or $LASTMILE_EDGE_LOGINS_PER_MINUTE)",
    )  # fmt: skip
    run_parser.add_argument(
        "--replicas", default=os.environ.get(REPLICAS_VARIABLE, ""),
        help="processes per service, e.g. orders=2,pricing=2 (default one of each, or "
        f"${REPLICAS_VARIABLE}); replica k of a service is <service>-k",
    )  # fmt: skip
    run_parser.add_argument(
        "--replica-port-step", type=_positive,
        default=int(os.environ.get(REPLICA_PORT_STEP_VARIABLE, "100")),
        help="replica k listens on its service's gRPC and admin ports + k x this "
        f"(default 100: orders-1 on 50152 and 9552, or ${REPLICA_PORT_STEP_VARIABLE})",
    )  # fmt: skip
    for port in fields(Ports):
        variable = f"LASTMILE_{port.name.upper()}_PORT"
        run_parser.add_argument(
            f"--{port.name.replace('_', '-')}-port", type=int,
            default=int(os.environ[variable]) if variable in os.environ else None,
            help=f"default {port.default} (or ${variable})",
        )  # fmt: skip
    commands.add_parser(
        "stop", help="stop a mesh started by `run`, even one whose launcher was killed"
    )
    commands.add_parser(
        "status", help="show each component of a running mesh: state, pid, restarts, last exit"
    )
    args = parser.parse_args(argv)
    if args.command == "run":
        try:
            args.replicas = Replicas.parse(args.replicas, args.replica_port_step)
        except DevstackError as refused:
            parser.error(str(refused))
        args.state_dir = Path(args.state_dir).resolve()
        if args.fresh:
            try:
                reset_state(args.state_dir)
            except DevstackError as refused:
                print(f"lastmile: {refused}", file=sys.stderr)
                return 1
        return asyncio.run(run(args))
    if args.command == "stop":
        return stop(args)
    return status(args)


if __name__ == "__main__":
    sys.exit(main())
