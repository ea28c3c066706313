"""Alembic env for the events integration tests' scratch database."""

from services.runtime.alembic_env import run_migrations

run_migrations()
