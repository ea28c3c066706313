"""Accounts with their log-in failure state, and token signing keys.

Revision ID: 0001
"""

from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE accounts (
            account_id uuid PRIMARY KEY,
            email text NOT NULL,
            -- The case-insensitive form of the email; the uniqueness rule lives here.
            email_key text NOT NULL UNIQUE,
            display_name text NOT NULL,
            role text NOT NULL CHECK (role IN ('customer', 'merchant', 'courier', 'ops')),
            password_hash text NOT NULL,
            created_at timestamptz NOT NULL,
            failed_logins integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
            failure_window_started_at timestamptz,
            locked_until timestamptz
        )
        """
    )
    op.execute(
        """
        CREATE TABLE signing_keys (
            kid text PRIMARY KEY,
            algorithm text NOT NULL,
            public_jwk jsonb NOT NULL,
            -- PKCS#8 PEM encrypted with the key-encryption secret, never in clear.
            sealed_private_key bytea NOT NULL,
            created_at timestamptz NOT NULL,
            retired_at timestamptz,
            retire_after timestamptz,
            CHECK ((retired_at IS NULL) = (retire_after IS NULL))
        )
        """
    )
    # At most one active key, whatever replicas race to create one.
    op.execute(
        "CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((true))"
        " WHERE retired_at IS NULL"
    )


def downgrade() -> None:
    op.execute("DROP TABLE signing_keys")
    op.execute("DROP TABLE accounts")
