"""Alembic env for identity's database."""

from services.runtime.alembic_env import run_migrations

run_migrations()
