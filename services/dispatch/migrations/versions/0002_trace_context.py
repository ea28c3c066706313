"""Each pending delivery keeps the W3C trace context it was queued in, so that offers a
new leader makes after a fail-over still join the delivery's trace.

Revision ID: 0002
"""

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.execute(
        "ALTER TABLE pending_deliveries ADD COLUMN trace_context jsonb NOT NULL DEFAULT '{}'::jsonb"
    )
