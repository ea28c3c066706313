"""The simulated population: courier and customer accounts, their agents, and the
connections they share (a few gRPC channels, one HTTP client per customer)."""

from __future__ import annotations

import asyncio
import logging
import math
import random
from contextlib import AsyncExitStack

import grpc
import httpx

from lastmile.fleet.v1 import courier_session_pb2_grpc
from services.runtime.channels import CLIENT_KEEPALIVE_OPTIONS
from services.simulator.accounts import Account, AccountError, AccountSpec, LoginGate
from services.simulator.courier_agent import CourierAgent
from services.simulator.courier_state import CourierSettings, CourierState
from services.simulator.customer_agent import CustomerAgent
from services.simulator.observations import Observations
from services.simulator.settings import SimulationSettings

log = logging.getLogger("lastmile.simulator")

# Real apps each hold a connection; a hundred streams per HTTP/2 connection keeps the
# edge's per-connection work realistic without thousands of sockets.
COURIERS_PER_CHANNEL = 100
# Registration hashes a password (argon2id) on identity: a few at a time.
REGISTRATIONS_AT_ONCE = 8
CUSTOMER_CONNECTIONS = httpx.Limits(max_connections=8, max_keepalive_connections=8)
ACCOUNT_CONNECTIONS = httpx.Limits(max_connections=16, max_keepalive_connections=16)


class Population:
    """Builds every agent and owns the connections; `async with` closes them all."""

    def __init__(self, settings: SimulationSettings, observations: Observations) -> None:
        self.settings, self.observations = settings, observations
        self.couriers: list[CourierAgent] = []
        self.customers: list[tuple[Account, CustomerAgent]] = []
        self._accounts: list[Account] = []
        self._stack = AsyncExitStack()
        self._registering = asyncio.Semaphore(REGISTRATIONS_AT_ONCE)

    async def __aenter__(self) -> Population:
        settings, rng = self.settings, random.Random(self.settings.seed)
        rest = await self._stack.enter_async_context(
            httpx.AsyncClient(base_url=settings.edge, limits=ACCOUNT_CONNECTIONS)
        )
        gate = LoginGate()
        # Customers first: their few log-ins must not wait behind a fleet's worth of them.
        for index in range(settings.customers):
            account = Account(
                AccountSpec.simulated("ROLE_CUSTOMER", index, settings.seed), rest, gate
            )
            client = await self._stack.enter_async_context(
                httpx.AsyncClient(base_url=settings.edge, limits=CUSTOMER_CONNECTIONS)
            )
            agent = CustomerAgent(
                account.spec.display_name, account, client, settings.box,
                settings.rate / settings.customers, self.observations, random.Random(rng.random()),
            )  # fmt: skip
            self.customers.append((account, agent))
        self._build_couriers(rest, gate, rng)
        return self

    def _build_couriers(self, rest: httpx.AsyncClient, gate: LoginGate, rng: random.Random) -> None:
        settings = self.settings
        courier_settings = CourierSettings(
            box=settings.box, speedup=settings.speedup,
            accept_probability=settings.accept_probability, ping_interval=settings.ping_interval,
        )  # fmt: skip
        stubs = []
        for _ in range(math.ceil(settings.couriers / COURIERS_PER_CHANNEL)):
            channel = grpc.aio.insecure_channel(
                settings.grpc_target, options=CLIENT_KEEPALIVE_OPTIONS
            )
            self._stack.push_async_callback(channel.close, None)
            stubs.append(courier_session_pb2_grpc.CourierSessionServiceStub(channel))
        for index in range(settings.couriers):
            account = Account(
                AccountSpec.simulated("ROLE_COURIER", index, settings.seed), rest, gate
            )
            own_rng = random.Random(rng.random())
            vehicle = settings.vehicle_mix.draw(own_rng)
            state = CourierState.new(
                vehicle, settings.box.random_point(own_rng), courier_settings, own_rng
            )
            stub = stubs[index // COURIERS_PER_CHANNEL]
            self._accounts.append(account)
            self.couriers.append(
                CourierAgent(account.spec.display_name, stub, account, state, courier_settings,
                             self.observations)
            )  # fmt: skip

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def run_courier(self, index: int, stopping: asyncio.Event) -> None:
        """Register the courier's account, then work until `stopping`."""
        if await self._registered(self._accounts[index]):
            await self.couriers[index].run(stopping)

    async def run_customer(
        self, index: int, go: asyncio.Event, duration: float, stopping: asyncio.Event
    ) -> None:
        """Register and log in at once, then create deliveries for `duration` from `go`."""
        account, agent = self.customers[index]
        if not await self._registered(account):
            return
        try:
            await account.access_token()
        except (AccountError, httpx.HTTPError) as failure:
            log.error("%s", failure)
            return
        go_or_stop = [asyncio.create_task(event.wait()) for event in (go, stopping)]
        try:
            await asyncio.wait(go_or_stop, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in go_or_stop:
                waiting.cancel()
        if go.is_set() and not stopping.is_set():
            await agent.run(asyncio.get_running_loop().time() + duration, stopping)

    async def _registered(self, account: Account) -> bool:
        try:
            async with self._registering:
                await account.register()
        except (AccountError, httpx.HTTPError) as failure:
            log.error("%s", failure)
            self.observations.last_connect_error = str(failure)
            return False
        return True
