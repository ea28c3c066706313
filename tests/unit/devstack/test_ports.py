"""Port helpers against real sockets on the loopback interface."""

from __future__ import annotations

import socket

import pytest

from services.devstack import PortInUseError, free_port, is_port_free
from services.devstack.ports import ensure_port_free


def test_a_port_with_a_listener_is_not_free_and_is_free_again_once_closed() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        assert not is_port_free(port)
        with pytest.raises(PortInUseError, match=f"nats: port {port} on 127.0.0.1"):
            ensure_port_free("nats", port)
    assert is_port_free(port)


def test_a_free_port_can_be_listened_on() -> None:
    port = free_port()

    assert is_port_free(port)
    with socket.create_server(("127.0.0.1", port)):
        pass
