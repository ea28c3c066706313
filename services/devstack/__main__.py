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
from services.devstack.components import SERVICES, Ports
from services.devstack.errors import DevstackError
from services.devstack.launcher import REPO, LocalMesh, reset_state
from services.devstack.log_stream import LogStream
from services.devstack.sidecars import LocalSidecars, MeshMode, default_port_base
from services.devstack.supervisor import Component, read_status

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
    ]
    if mesh.sidecars is not None:
        lines.append(
            f"  mesh         Envoy sidecars, mTLS + RBAC (certificates: {mesh.sidecars.certs_dir})"
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
        otlp_endpoint=args.otlp_endpoint,
        logins_per_minute=args.logins_per_minute,
    )
    if args.mesh == MeshMode.SIDECARS:
        mesh.sidecars = LocalSidecars(args.state_dir, mesh.ports, args.sidecar_port_base)
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
        while not stop_requested.is_set():
            for component in mesh.supervisor.crashed():
                component.expected_exit = True
                print(_crash_report(component), file=sys.stderr, flush=True)
                exit_code = 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_requested.wait(), timeout=0.5)
    except DevstackError as failure:
        stream.pump()
        print(f"\nlastmile: {failure}", file=sys.stderr, flush=True)
        exit_code = 1
    finally:
        print("\nstopping ...", flush=True)
        await mesh.stop()
        stream.pump()
        tail.cancel()
        print("stopped.", flush=True)
    return exit_code


def _crash_report(component: Component) -> str:
    process = component.process
    code = process.exit_code if process else "?"
    tail = process.log_tail() if process else ""
    return (
        f"\n!! {component.name} (pid {component.pid}) exited unexpectedly with code {code};"
        f" last lines of {component.log_path}:\n{tail}\n"
    )


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
    status = read_status(Path(args.state_dir))
    if status is None:
        print("lastmile is not running (no run.json)")
        return 0
    pid = int(str(status["supervisor_pid"]))
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        print(f"the supervisor (pid {pid}) is gone; nothing to stop")
        return 0
    print(f"asked the supervisor (pid {pid}) to stop the mesh")
    return 0


def status(args: argparse.Namespace) -> int:
    state = read_status(Path(args.state_dir))
    if state is None:
        print("lastmile is not running")
        return 1
    healthy = True
    for component in state["components"]:  # type: ignore[attr-defined]
        pid = component["pid"]
        alive = pid is not None and _alive(int(pid))
        healthy &= alive
        print(f"{component['name']:<16} {'up  ' if alive else 'DOWN'} pid {pid!s:<8} "
              f"{component['address']:<27} log {component['log']}")  # fmt: skip
    return 0 if healthy else 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


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
        "--sidecar-port-base", type=int, default=default_port_base(),
        help="first of the port blocks (100 per service) that sidecars and apps use in "
        f"sidecar mode (default {default_port_base()}, or $LASTMILE_SIDECAR_PORT_BASE)",
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
    for port in fields(Ports):
        variable = f"LASTMILE_{port.name.upper()}_PORT"
        run_parser.add_argument(
            f"--{port.name.replace('_', '-')}-port", type=int,
            default=int(os.environ[variable]) if variable in os.environ else None,
            help=f"default {port.default} (or ${variable})",
        )  # fmt: skip
    commands.add_parser("stop", help="stop a mesh started by `run`")
    commands.add_parser("status", help="show the components of a running mesh")
    args = parser.parse_args(argv)
    if args.command == "run":
        args.state_dir = Path(args.state_dir).resolve()
        if args.fresh:
            reset_state(args.state_dir)
        return asyncio.run(run(args))
    if args.command == "stop":
        return stop(args)
    return status(args)


if __name__ == "__main__":
    sys.exit(main())
