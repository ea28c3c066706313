"""Deliveries, idempotency keys and the transactional outbox.

Revision ID: 0001
"""

from alembic import op

from services.runtime.events.outbox import OUTBOX_DDL

revision = "0001"
down_revision = None

STATEMENTS = (
    """
CREATE TABLE deliveries (
    id                  uuid        PRIMARY KEY,
    customer_id         text,
    merchant_id         text,
    pickup              jsonb       NOT NULL,
    dropoff             jsonb       NOT NULL,
    parcel_size         text        NOT NULL,
    parcel_weight_grams integer     NOT NULL CHECK (parcel_weight_grams > 0),
    parcel_description  text        NOT NULL,
    service_level       text        NOT NULL,
    quote_id            text        NOT NULL,
    price_minor         bigint      NOT NULL,
    price_currency      text        NOT NULL,
    status              text        NOT NULL CHECK (status IN
                            ('PENDING', 'ASSIGNED', 'PICKED_UP', 'DELIVERED', 'CANCELLED')),
    courier_id          text,
    offer_id            text,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    assigned_at         timestamptz,
    picked_up_at        timestamptz,
    delivered_at        timestamptz,
    cancelled_at        timestamptz,
    cancel_reason       text        NOT NULL DEFAULT '',
    version             bigint      NOT NULL CHECK (version > 0),
    CHECK (customer_id IS NOT NULL OR merchant_id IS NOT NULL),
    CHECK ((courier_id IS NULL) = (offer_id IS NULL))
)""",
    # Keyset paging newest first, for ops (all) and for each kind of owner.
    "CREATE INDEX deliveries_newest ON deliveries (created_at DESC, id DESC)",
    "CREATE INDEX deliveries_of_customer ON deliveries (customer_id, created_at DESC, id DESC)",
    "CREATE INDEX deliveries_of_merchant ON deliveries (merchant_id, created_at DESC, id DESC)",
    # The key row is written first in the creating transaction, so its delivery follows.
    """
CREATE TABLE idempotency_keys (
    owner_id            text        NOT NULL,
    key                 text        NOT NULL,
    request_fingerprint text        NOT NULL,
    delivery_id         uuid        NOT NULL
                            REFERENCES deliveries (id) DEFERRABLE INITIALLY DEFERRED,
    created_at          timestamptz NOT NULL,
    PRIMARY KEY (owner_id, key)
)""",
)


def upgrade() -> None:
    for statement in (*STATEMENTS, *OUTBOX_DDL):
        op.execute(statement)
