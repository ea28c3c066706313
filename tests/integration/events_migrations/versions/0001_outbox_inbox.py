"""The runtime's outbox and inbox, plus a table where the test handler records events.

Revision ID: 0001
"""

from alembic import op

from services.runtime.events.consumer import INBOX_DDL
from services.runtime.events.outbox import OUTBOX_DDL

revision = "0001"
down_revision = None


def upgrade() -> None:
    for statement in (*OUTBOX_DDL, *INBOX_DDL):
        op.execute(statement)
    op.execute(
        "CREATE TABLE handled (id bigserial PRIMARY KEY, event_id uuid NOT NULL,"
        " subject text NOT NULL, sequence bigint NOT NULL)"
    )
