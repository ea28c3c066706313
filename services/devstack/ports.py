"""Finding and checking TCP ports on the loopback interface."""

from __future__ import annotations

import socket

from services.devstack.errors import PortInUseError

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A port that is free right now; another process may still take it before it is used."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def is_port_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:`port` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Servers (PostgreSQL, Go's net.Listen) set SO_REUSEADDR, so connections of a previous
        # run lingering in TIME_WAIT do not block them; without it the probe would say "busy".
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def ensure_port_free(server: str, port: int) -> None:
    """Fail before spawning anything, with an error that names the port and the server."""
    if not is_port_free(port):
        raise PortInUseError(server, port)
