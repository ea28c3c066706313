"""orders' adapters: PostgreSQL repositories and unit of work, the outbox writer and the
pricing client."""
