"""The local development stack's infrastructure processes (PostgreSQL, NATS JetStream),
run from pip-installed binaries; used by the tests and by `make run`."""

from services.devstack.errors import DevstackError, PortInUseError, ServerStartError
from services.devstack.nats import LocalNats
from services.devstack.ports import free_port, is_port_free
from services.devstack.postgres import LocalPostgres

__all__ = [
    "DevstackError",
    "LocalNats",
    "LocalPostgres",
    "PortInUseError",
    "ServerStartError",
    "free_port",
    "is_port_free",
]
