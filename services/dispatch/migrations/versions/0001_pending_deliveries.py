"""The queue of pending deliveries (with their open offers and declines) and the
consumer's inbox.

Revision ID: 0001
"""

from alembic import op

from services.runtime.events.consumer import INBOX_DDL

revision = "0001"
down_revision = None

STATEMENTS = (
    """
CREATE TABLE pending_deliveries (
    delivery_id      text        PRIMARY KEY,
    -- lastmile.orders.v1.Delivery with the contacts, as delivery.created carried it
    delivery         bytea       NOT NULL,
    enqueued_at      timestamptz NOT NULL,
    state            text        NOT NULL DEFAULT 'WAITING'
                         CHECK (state IN ('WAITING', 'OFFERED', 'ASSIGNING')),
    offer_count      integer     NOT NULL DEFAULT 0 CHECK (offer_count >= 0),
    -- couriers who declined: never offered this delivery again
    declined_by      text[]      NOT NULL DEFAULT '{}',
    offer_id         text,
    courier_id       text,
    fleet_replica_id text,
    offer_created_at timestamptz,
    offer_expires_at timestamptz,
    CHECK ((state = 'WAITING') = (offer_id IS NULL))
)""",
    "CREATE INDEX pending_deliveries_by_age ON pending_deliveries (enqueued_at, delivery_id)",
)


def upgrade() -> None:
    for statement in (*STATEMENTS, *INBOX_DDL):
        op.execute(statement)
