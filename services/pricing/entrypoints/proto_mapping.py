"""lastmile.pricing.v1 messages <-> pricing's domain objects."""

from __future__ import annotations

from lastmile.pricing.v1 import pricing_pb2
from services.contracts import common_v1
from services.pricing.domain.quote import Quote
from services.pricing.domain.tariff import PriceComponent
from services.pricing.domain.terms import DeliveryTerms
from services.pricing.service_layer.ports import PublicQuoteKey

_COMPONENTS = {
    PriceComponent.BASE_FEE: pricing_pb2.PRICE_COMPONENT_KIND_BASE_FEE,
    PriceComponent.DISTANCE: pricing_pb2.PRICE_COMPONENT_KIND_DISTANCE,
    PriceComponent.SIZE_SURCHARGE: pricing_pb2.PRICE_COMPONENT_KIND_SIZE_SURCHARGE,
    PriceComponent.WEIGHT_SURCHARGE: pricing_pb2.PRICE_COMPONENT_KIND_WEIGHT_SURCHARGE,
    PriceComponent.EXPRESS: pricing_pb2.PRICE_COMPONENT_KIND_EXPRESS,
    PriceComponent.MINIMUM_FEE_ADJUSTMENT: pricing_pb2.PRICE_COMPONENT_KIND_MINIMUM_FEE_ADJUSTMENT,
}


def read_terms(message: pricing_pb2.DeliveryTerms) -> DeliveryTerms:
    """The terms of a request the runtime has checked against the contract's rules."""
    return DeliveryTerms(
        common_v1.read_point(message.pickup),
        common_v1.read_point(message.dropoff),
        common_v1.read_parcel(message.parcel),
        common_v1.read_service_level(message.service_level),
    )


def terms_message(terms: DeliveryTerms) -> pricing_pb2.DeliveryTerms:
    return pricing_pb2.DeliveryTerms(
        pickup=common_v1.point_message(terms.pickup),
        dropoff=common_v1.point_message(terms.dropoff),
        parcel=common_v1.parcel_message(terms.parcel),
        service_level=common_v1.service_level_value(terms.service_level),
    )


def quote_message(quote: Quote) -> pricing_pb2.Quote:
    return pricing_pb2.Quote(
        quote_id=quote.quote_id,
        terms=terms_message(quote.terms),
        price=common_v1.money_message(quote.price),
        breakdown=[
            pricing_pb2.PriceComponent(
                kind=_COMPONENTS[line.component], amount=common_v1.money_message(line.amount)
            )
            for line in quote.breakdown
        ],
        distance_meters=quote.distance_meters,
        create_time=common_v1.timestamp_message(quote.created_at),
        expire_time=common_v1.timestamp_message(quote.expires_at),
    )


def quote_key_message(key: PublicQuoteKey) -> pricing_pb2.QuoteKey:
    return pricing_pb2.QuoteKey(
        kid=key.kid,
        kty="OKP",
        crv="Ed25519",
        x=key.x,
        alg=key.algorithm,
        use="sig",
        active=key.active,
    )
