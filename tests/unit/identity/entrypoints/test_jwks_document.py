"""The admin port's JWKS document: a standard JWK Set, replaced whole on change."""

from __future__ import annotations

import json

from services.identity.adapters.es256_signer import Es256TokenSigner
from services.identity.entrypoints.jwks_document import JwksDocument
from tests.unit.identity.fakes import Clock


def test_the_document_is_empty_until_keys_are_published_then_lists_them_in_order(
    signer: Es256TokenSigner, clock: Clock
) -> None:
    document = JwksDocument()
    assert document() == ("application/json", b'{"keys":[]}')
    new, old = signer.generate_key(clock.now), signer.generate_key(clock.now)
    document.publish([new, old])
    content_type, body = document()
    assert content_type == "application/json"
    assert json.loads(body) == {"keys": [new.jwk(), old.jwk()]}
