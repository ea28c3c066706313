"""Couriers (profile and the live state that survives reconnects and restarts), their
shift history, and the transactional outbox.

Revision ID: 0001
"""

from alembic import op

from services.runtime.events.outbox import OUTBOX_DDL

revision = "0001"
down_revision = None

STATEMENTS = (
    """
CREATE TABLE couriers (
    id                    text             PRIMARY KEY,
    vehicle_type          text,
    status                text             NOT NULL CHECK (status IN
                              ('OFFLINE', 'IDLE', 'OFFERED', 'ASSIGNED', 'DELIVERING')),
    connected             boolean          NOT NULL,
    session_id            text             NOT NULL,
    offer_id              text,
    offer_delivery_id     text,
    offer_expire_at       timestamptz,
    offer_accepted        boolean          NOT NULL DEFAULT false,
    offer_details         bytea,
    delivery_id           text,
    delivery_offer_id     text,
    delivery_assigned_at  timestamptz,
    delivery_picked_up    boolean          NOT NULL DEFAULT false,
    delivery_details      bytea,
    -- The last position, written with state changes only (never per ping).
    last_latitude         double precision,
    last_longitude        double precision,
    last_recorded_at      timestamptz,
    last_accuracy_meters  real,
    last_heading_degrees  real,
    last_speed_mps        real,
    last_seen_at          timestamptz,
    version               bigint           NOT NULL CHECK (version > 0),
    created_at            timestamptz      NOT NULL,
    updated_at            timestamptz      NOT NULL,
    CHECK ((offer_id IS NULL) = (offer_details IS NULL)),
    CHECK ((delivery_id IS NULL) = (delivery_details IS NULL)),
    CHECK ((status = 'OFFERED') = (offer_id IS NOT NULL)),
    CHECK ((status IN ('ASSIGNED', 'DELIVERING')) = (delivery_id IS NOT NULL)),
    CHECK ((last_latitude IS NULL) = (last_recorded_at IS NULL))
)""",
    """
CREATE TABLE shifts (
    id            bigserial   PRIMARY KEY,
    courier_id    text        NOT NULL REFERENCES couriers (id),
    vehicle_type  text        NOT NULL,
    started_at    timestamptz NOT NULL,
    ended_at      timestamptz,
    end_reason    text,
    CHECK ((ended_at IS NULL) = (end_reason IS NULL))
)""",
    # At most one open shift per courier; also the index that closes it.
    "CREATE UNIQUE INDEX shifts_open ON shifts (courier_id) WHERE ended_at IS NULL",
    "CREATE INDEX shifts_of_courier ON shifts (courier_id, started_at DESC)",
)


def upgrade() -> None:
    for statement in (*STATEMENTS, *OUTBOX_DDL):
        op.execute(statement)
