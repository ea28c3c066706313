"""Stops: where a courier collects or hands over a parcel, and whom they meet there."""

from __future__ import annotations

from dataclasses import dataclass

from services.shared_kernel.geo import GeoPoint

# The request rules of stops and contacts (required, lengths, E.164, no control
# characters) are the contract's: lastmile.common.v1.Stop and Contact in protos/.


@dataclass(frozen=True, slots=True)
class Contact:
    """The person a courier meets at a stop, reachable by phone."""

    name: str
    phone: str


@dataclass(frozen=True, slots=True)
class Stop:
    """An address as people read it, the point that pricing and matching use, and
    (except in offers to couriers) the contact to meet."""

    address: str
    point: GeoPoint
    contact: Contact | None = None
    instructions: str = ""
