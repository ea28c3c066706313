"""lastmile.common.v1 <-> shared kernel: points, stops, parcels, service levels and money.

Readers only translate: the request rules (required fields, lengths, ranges, E.164,
no `*_UNSPECIFIED`) are the contract's `buf.validate` annotations, which the runtime
checks before any handler runs, so a reader only ever sees a valid message.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf import duration_pb2, timestamp_pb2

from lastmile.common.v1 import geo_pb2, money_pb2, parcel_pb2, stop_pb2
from services.shared_kernel.geo import GeoPoint
from services.shared_kernel.money import Money
from services.shared_kernel.parcel import Parcel, ParcelSize, ServiceLevel
from services.shared_kernel.stop import Contact, Stop

_SIZES = {
    parcel_pb2.PARCEL_SIZE_SMALL: ParcelSize.SMALL,
    parcel_pb2.PARCEL_SIZE_MEDIUM: ParcelSize.MEDIUM,
    parcel_pb2.PARCEL_SIZE_LARGE: ParcelSize.LARGE,
    parcel_pb2.PARCEL_SIZE_EXTRA_LARGE: ParcelSize.EXTRA_LARGE,
}
_SIZE_VALUES = {size: value for value, size in _SIZES.items()}
_LEVELS = {
    parcel_pb2.SERVICE_LEVEL_STANDARD: ServiceLevel.STANDARD,
    parcel_pb2.SERVICE_LEVEL_EXPRESS: ServiceLevel.EXPRESS,
}
_LEVEL_VALUES = {level: value for value, level in _LEVELS.items()}


def read_point(message: geo_pb2.GeoPoint) -> GeoPoint:
    return GeoPoint(message.latitude, message.longitude)


def read_contact(message: stop_pb2.Contact) -> Contact:
    return Contact(message.name, message.phone)


def read_stop(message: stop_pb2.Stop) -> Stop:
    """The stop; its contact is None where the message has none (offers to couriers)."""
    contact = read_contact(message.contact) if message.HasField("contact") else None
    return Stop(message.address, read_point(message.point), contact, message.instructions)


def read_parcel(message: parcel_pb2.Parcel) -> Parcel:
    return Parcel(
        size=_SIZES[message.size],
        weight_grams=message.weight_grams,
        description=message.description,
    )


def read_service_level(value: int) -> ServiceLevel:
    return _LEVELS[value]  # type: ignore[index]


def point_message(point: GeoPoint) -> geo_pb2.GeoPoint:
    return geo_pb2.GeoPoint(latitude=point.latitude, longitude=point.longitude)


def stop_message(stop: Stop) -> stop_pb2.Stop:
    message = stop_pb2.Stop(
        address=stop.address, point=point_message(stop.point), instructions=stop.instructions
    )
    if stop.contact is not None:
        message.contact.CopyFrom(stop_pb2.Contact(name=stop.contact.name, phone=stop.contact.phone))
    return message


def parcel_message(parcel: Parcel) -> parcel_pb2.Parcel:
    return parcel_pb2.Parcel(
        size=_SIZE_VALUES[parcel.size],
        weight_grams=parcel.weight_grams,
        description=parcel.description,
    )


def service_level_value(level: ServiceLevel) -> parcel_pb2.ServiceLevel.ValueType:
    return _LEVEL_VALUES[level]


def money_message(money: Money) -> money_pb2.Money:
    return money_pb2.Money(amount_minor=money.amount_minor, currency_code=money.currency)


def read_money(message: money_pb2.Money) -> Money:
    return Money(message.amount_minor, message.currency_code)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp_message(moment: datetime) -> timestamp_pb2.Timestamp:
    """An aware datetime as a google.protobuf.Timestamp, exactly (to the microsecond).

    Plain timedelta arithmetic: several times cheaper than Timestamp.FromDatetime after
    astimezone, and made once per courier change and per snapshot entry on the Link."""
    since = moment - _EPOCH
    return timestamp_pb2.Timestamp(
        seconds=since.days * 86_400 + since.seconds, nanos=since.microseconds * 1000
    )


def duration_message(span: timedelta) -> duration_pb2.Duration:
    """A google.protobuf.Duration; a negative span (clock skew) is clamped to zero."""
    duration = duration_pb2.Duration()
    duration.FromTimedelta(max(span, timedelta(0)))
    return duration


def read_timestamp(stamp: timestamp_pb2.Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)
