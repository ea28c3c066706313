"""The local development stack's infrastructure processes (PostgreSQL, NATS JetStream),
run from pip-installed binaries; used by the tests and by `make run`."""

import os

# The launcher spawns (and restarts) servers while its health checks keep gRPC threads
# busy. grpc's fork support would run its at-fork handlers in each child between fork and
# exec, restarting a poller there that can crash the child before it execs; the children
# never use gRPC, so it is switched off before grpc is first imported.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")


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
