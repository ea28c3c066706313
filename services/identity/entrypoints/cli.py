"""`python -m services.identity rotate-keys`: make a new active signing key, once."""

from __future__ import annotations

import asyncio
import logging

from services.identity.adapters.es256_signer import Es256TokenSigner
from services.identity.adapters.postgres_uow import PostgresUnitOfWork
from services.identity.adapters.schema import migrate_exclusively
from services.identity.bootstrap import signing_key_handlers
from services.identity.config import IdentitySettings
from services.identity.domain.signing_key import SigningKey
from services.runtime.clock import system_clock
from services.runtime.config import load_settings
from services.runtime.database import Database
from services.runtime.logs import configure_logging

log = logging.getLogger("lastmile.identity.cli")


async def rotate_signing_key(settings: IdentitySettings) -> SigningKey:
    """Rotate in identity's database; running replicas pick the new key up at their
    next JWKS refresh, and serve the previous one until its tokens have expired."""
    await migrate_exclusively(settings.database_url)
    database = Database(settings.database_url, min_size=1, max_size=1)
    await database.connect()
    try:
        signer = Es256TokenSigner(settings.key_encryption_secret.get_secret_value())
        handlers = signing_key_handlers(
            settings, lambda: PostgresUnitOfWork(database), signer, system_clock
        )
        return await handlers.rotate_keys()
    finally:
        await database.close()


def rotate_keys_command() -> None:
    settings = load_settings(IdentitySettings)
    configure_logging(IdentitySettings.service_name, settings.log_level)
    key = asyncio.run(rotate_signing_key(settings))
    log.info("signing key rotated", extra={"active_kid": key.kid})
