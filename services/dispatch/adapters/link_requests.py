"""LinkRequest -> what a fleet replica reports, read message by message."""

from __future__ import annotations

from collections.abc import Iterator

from lastmile.dispatch.v1 import dispatch_internal_pb2
from lastmile.fleet.v1 import courier_pb2
from services.dispatch.adapters.fleet_values import STATUSES, VEHICLES
from services.dispatch.domain.couriers import Courier, CourierStatus
from services.dispatch.domain.fleet_reports import (
    AnswerOutcome,
    CourierUpdate,
    Hello,
    LinkReport,
    OfferAnswer,
    PositionFix,
    PositionFixes,
    SnapshotChunk,
)
from services.dispatch.service_layer.link_protocol import LinkProtocolViolation

_OUTCOMES = {
    dispatch_internal_pb2.OFFER_OUTCOME_ACCEPTED: AnswerOutcome.ACCEPTED,
    dispatch_internal_pb2.OFFER_OUTCOME_DECLINED: AnswerOutcome.DECLINED,
    dispatch_internal_pb2.OFFER_OUTCOME_EXPIRED: AnswerOutcome.EXPIRED,
    dispatch_internal_pb2.OFFER_OUTCOME_UNDELIVERABLE: AnswerOutcome.UNDELIVERABLE,
}


class LinkRequestReader:
    """Reads one Link's requests; couriers are stamped with the replica its hello named."""

    def __init__(self) -> None:
        self.fleet_replica_id = ""

    def read(self, request: dispatch_internal_pb2.LinkRequest) -> LinkReport:
        kind = request.WhichOneof("message")
        if kind == "positions":
            return PositionFixes(_fixes(request.positions))
        if kind == "courier_changed":
            changed = request.courier_changed
            # Courier is fleet's resource, all output-only in the contract: the Link's
            # need of its id is the Link's own rule.
            if not changed.courier.courier_id:
                raise LinkProtocolViolation("courier_changed.courier.courier_id is required")
            return CourierUpdate(self._courier(changed.courier))
        if kind == "offer_response":
            return _answer(request.offer_response)
        if kind == "snapshot":
            chunk = request.snapshot
            couriers = [self._courier(c) for c in chunk.couriers if c.courier_id]
            return SnapshotChunk(chunk.snapshot_id, couriers, chunk.last_chunk)
        if kind == "hello":
            self.fleet_replica_id = request.hello.fleet_replica_id
            return Hello(request.hello.fleet_replica_id)
        # The contract requires one member of the oneof; this is one it added later.
        raise LinkProtocolViolation(f"dispatch does not know LinkRequest member {kind!r}")

    def _courier(self, message: courier_pb2.Courier) -> Courier:
        courier = Courier(
            courier_id=message.courier_id,
            fleet_replica_id=self.fleet_replica_id,
            vehicle=VEHICLES.get(message.vehicle_type),
            status=STATUSES.get(message.status, CourierStatus.OFFLINE),
            connected=message.connected,
            version=message.version,
            offer_id=message.offer_id,
            delivery_id=message.delivery_id,
        )
        if message.HasField("last_location"):
            location = message.last_location
            stamp = location.recorded_time
            courier.latitude, courier.longitude = location.point.latitude, location.point.longitude
            courier.located_at = stamp.seconds + stamp.nanos * 1e-9
        return courier


def _answer(response: dispatch_internal_pb2.OfferResponse) -> OfferAnswer:
    outcome = _OUTCOMES.get(response.outcome)
    if outcome is None or not (response.offer_id and response.courier_id and response.delivery_id):
        raise LinkProtocolViolation(
            "offer_response needs offer_id, courier_id, delivery_id and an outcome"
        )
    return OfferAnswer(response.offer_id, response.courier_id, response.delivery_id, outcome)


def _fixes(batch: dispatch_internal_pb2.PositionBatch) -> Iterator[PositionFix]:
    for position in batch.positions:
        location = position.location
        point, stamp = location.point, location.recorded_time
        yield (
            position.courier_id,
            point.latitude,
            point.longitude,
            stamp.seconds + stamp.nanos * 1e-9,
        )
