"""identity's adapters: PostgreSQL, argon2 and ES256 signing."""
