"""Alembic env for fleet's database."""

from services.runtime.alembic_env import run_migrations

run_migrations()
