"""Why a local infrastructure server could not be started or stopped."""

from __future__ import annotations


class DevstackError(RuntimeError):
    """Base class: something about a local infrastructure server went wrong."""


class PortInUseError(DevstackError):
    """The TCP port a server was asked to listen on is taken by another process."""

    def __init__(self, server: str, port: int) -> None:
        super().__init__(f"{server}: port {port} on 127.0.0.1 is already in use")
        self.server = server
        self.port = port


class ServerStartError(DevstackError):
    """A server exited or never became ready; the message carries its log tail."""
