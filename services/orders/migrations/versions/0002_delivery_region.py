"""Each delivery's region: the region of its pickup point, set at creation and named by
the subjects of its events.

Rows from before regions are given the region of their pickup in the shipped regions file
(the local mesh's); a pickup outside every region gets '' and its events the subject token
`none`, so no event is lost to an unroutable subject.

Revision ID: 0002
"""

import json

import sqlalchemy as sa
from alembic import op

from services.shared_kernel.regions import shipped_regions

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.execute("ALTER TABLE deliveries ADD COLUMN region text NOT NULL DEFAULT ''")
    connection = op.get_bind()
    regions = shipped_regions()
    rows = connection.execute(sa.text("SELECT id, pickup FROM deliveries")).fetchall()
    for delivery_id, pickup in rows:
        point = pickup if isinstance(pickup, dict) else json.loads(pickup)
        region = regions.region_of(point["latitude"], point["longitude"]) or ""
        connection.execute(
            sa.text("UPDATE deliveries SET region = :region WHERE id = :id"),
            {"region": region, "id": delivery_id},
        )
    op.execute("ALTER TABLE deliveries ALTER COLUMN region DROP DEFAULT")
