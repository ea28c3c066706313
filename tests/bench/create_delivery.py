"""create-delivery: orders' CreateDelivery over gRPC at a fixed concurrency, with pricing,
PostgreSQL and NATS JetStream on the same machine, and the outbox relay's lag.

Each call creates a new delivery (no idempotency key): a pricing call, one transaction
with the delivery and its outbox row, and a relay that publishes to JetStream meanwhile.
`create-delivery-quoted` presents one quote obtained beforehand in every call, as a client
that quoted first does, so orders checks the quote instead of asking for a price. Each
round also prints the CPU milliseconds orders and pricing spent per create (their own
process time, so other load on the machine does not count).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from dataclasses import replace
from pathlib import Path
from statistics import mean

import asyncpg
import grpc

from lastmile.pricing.v1 import pricing_pb2, pricing_pb2_grpc
from tests.bench import h2load
from tests.bench.benchmark import Benchmark, LoadShape
from tests.bench.cpu_split import CpuSplit
from tests.bench.h2load import LoadFailed, LoadRun
from tests.bench.machine import describe_machine
from tests.bench.orders_stack import OrdersStack, orders_stack
from tests.bench.pricing_calls import CALL_TIMEOUT_SECONDS, grpc_frame
from tests.orders_examples import account, create_request, delivery

CREATE_DELIVERY_PATH = "/lastmile.orders.v1.OrdersService/CreateDelivery"
# The platform goal is judged at low latency, so the load is 4 connections x 4 streams
# in flight, whatever --clients and --streams say.
CONNECTIONS, STREAMS = 4, 4
_FINE = frozenset({"OK", "CANCELLED"})
ROW = "{:<6} {:>9} {:>8} {:>8} {:>9} {:>14} {:>14} {:>22}"
_LAG_SQL = (
    "SELECT count(*) AS pending, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)"
    " AS lag FROM outbox WHERE published_at IS NULL"
)


def run(shape: LoadShape, *, quoted: bool = False) -> None:
    shape = replace(shape, clients=CONNECTIONS, streams_per_client=STREAMS)
    name = "create-delivery-quoted" if quoted else "create-delivery"
    with_quote = ", each with a quote obtained beforehand" if quoted else ""
    print(f"{name}: orders CreateDelivery (pricing, PostgreSQL, NATS JetStream){with_quote}")
    print(f"machine: {describe_machine()}")
    print(f"load:    {shape.describe()}; pricing, PostgreSQL and NATS unpinned")
    with tempfile.TemporaryDirectory(prefix="bench-create-delivery-") as scratch:
        asyncio.run(_measure(shape, Path(scratch), quoted=quoted))


async def _measure(shape: LoadShape, work: Path, *, quoted: bool) -> None:
    payload = work / "create_delivery.bin"
    merchant = account("merchant")
    headers = [f"{name}: {value}" for name, value in merchant.metadata]
    async with orders_stack(work, shape) as stack:
        quote_id = await _quote_id(stack.pricing_port) if quoted else ""
        payload.write_bytes(grpc_frame(create_request(quote_id=quote_id).SerializeToString()))
        meter = CpuSplit(stack.pids)
        database = await asyncpg.connect(stack.database_url)
        try:
            url = f"http://127.0.0.1:{stack.orders_port}{CREATE_DELIVERY_PATH}"
            print(
                "\nper round (outbox: unpublished events when the round ends, max lag during;"
                " CPU: orders / pricing ms per create):"
            )
            print(
                ROW.format(
                    "round",
                    "req/s",
                    "p50 ms",
                    "p99 ms",
                    "requests",
                    "outbox at end",
                    "max lag s",
                    "CPU ms/create",
                )
            )
            runs = []
            spent: dict[str, float] = {}
            for round_number in range(1, shape.rounds + 1):
                if shape.warm_up_seconds > 0:
                    await _drive(shape, url, payload, headers, work, shape.warm_up_seconds)
                before = await _deliveries(database)
                cpu_before = meter.sample()
                load, max_lag = await _drive_and_watch(shape, url, payload, headers, work, database)
                cpu_after = meter.sample()
                created = await _deliveries(database) - before
                if created < load.succeeded:
                    raise LoadFailed(f"{load.succeeded} calls answered but {created} created")
                pending, _ = await _outbox(database)
                runs.append(load)
                cpu = {
                    name: cpu_after.seconds[name] - cpu_before.seconds[name] for name in stack.pids
                }
                for name, seconds in cpu.items():
                    spent[name] = spent.get(name, 0.0) + seconds
                print(
                    _row(str(round_number), [load], f"{pending}", f"{max_lag:.2f}", cpu, created),
                    flush=True,
                )
            caught_up = await _time_to_drain(database)
        finally:
            await database.close()
        _check_access_log(stack)
    print(f"\nall rounds:\n{ROW.format('', 'req/s', 'p50 ms', 'p99 ms', 'requests', '', '', '')}")
    print(_row("all", runs, "", "", spent, sum(load.succeeded for load in runs)))
    print(f"outbox relay caught up {caught_up:.2f} s after the last round")


async def _quote_id(pricing_port: int) -> str:
    """A quote for the terms of every create the load sends (valid 15 minutes)."""
    terms = delivery()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{pricing_port}") as channel:
        reply = await pricing_pb2_grpc.PricingServiceStub(channel).CreateQuote(
            pricing_pb2.CreateQuoteRequest(
                terms=pricing_pb2.DeliveryTerms(
                    pickup=terms.pickup.point,
                    dropoff=terms.dropoff.point,
                    parcel=terms.parcel,
                    service_level=terms.service_level,
                )
            ),
            timeout=CALL_TIMEOUT_SECONDS,
        )
    return reply.quote.quote_id


async def _drive(
    shape: LoadShape, url: str, payload: Path, headers: list[str], work: Path, seconds: float
) -> LoadRun:
    return await asyncio.to_thread(
        h2load.drive,
        url,
        payload=payload,
        shape=shape,
        duration_seconds=seconds,
        log_file=work / "requests.log",
        headers=headers,
    )


async def _drive_and_watch(
    shape: LoadShape,
    url: str,
    payload: Path,
    headers: list[str],
    work: Path,
    database: asyncpg.Connection,
) -> tuple[LoadRun, float]:
    load = asyncio.ensure_future(_drive(shape, url, payload, headers, work, shape.duration_seconds))
    max_lag = 0.0
    while not load.done():
        max_lag = max(max_lag, (await _outbox(database))[1])
        await asyncio.wait([load], timeout=0.25)
    return load.result(), max_lag


async def _deliveries(database: asyncpg.Connection) -> int:
    return int(await database.fetchval("SELECT count(*) FROM deliveries"))


async def _outbox(database: asyncpg.Connection) -> tuple[int, float]:
    row = await database.fetchrow(_LAG_SQL)
    assert row is not None
    return int(row["pending"]), float(row["lag"])


async def _time_to_drain(database: asyncpg.Connection) -> float:
    loop = asyncio.get_running_loop()
    started = loop.time()
    while (await _outbox(database))[0] > 0:
        if loop.time() - started > 120:
            raise LoadFailed("the outbox relay did not catch up within 120 s")
        await asyncio.sleep(0.05)
    return loop.time() - started


def _check_access_log(stack: OrdersStack) -> None:
    # A failed gRPC call is still HTTP 200 to h2load; orders' access log tells them apart.
    # CANCELLED is h2load resetting the streams still in flight when a run's time is up.
    failures = []
    for line in stack.orders_log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry.get("rpc") == CREATE_DELIVERY_PATH and entry.get("code") not in _FINE:
            failures.append(line)
    if failures:
        raise LoadFailed(f"{len(failures)} CreateDelivery calls failed, e.g. {failures[0]}")


def _row(
    label: str,
    loads: list[LoadRun],
    pending: str,
    lag: str,
    cpu_seconds: dict[str, float],
    created: int,
) -> str:
    latencies = [latency for load in loads for latency in load.latencies_us]
    per_create = " / ".join(
        f"{seconds * 1000 / max(created, 1):.2f}" for seconds in cpu_seconds.values()
    )
    return ROW.format(
        label,
        f"{mean(load.requests_per_second for load in loads):.1f}",
        f"{h2load.percentile(latencies, 0.50) / 1000:.2f}",
        f"{h2load.percentile(latencies, 0.99) / 1000:.2f}",
        len(latencies),
        pending,
        lag,
        per_create,
    )


def run_quoted(shape: LoadShape) -> None:
    run(shape, quoted=True)


CREATE_DELIVERY = Benchmark(
    name="create-delivery",
    summary="orders CreateDelivery req/s, p50, p99 with pricing, PostgreSQL, NATS; relay lag",
    run=run,
)
CREATE_DELIVERY_QUOTED = Benchmark(
    name="create-delivery-quoted",
    summary="the same, each create presenting a quote: orders checks it instead of quoting",
    run=run_quoted,
)
