"""Alembic env for dispatch's database."""

from services.runtime.alembic_env import run_migrations

run_migrations()
