"""The 99minds subscription's settings and its webhook key settings: the shapes of its two secrets."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from ...core.settings import SubscriptionSettings, WebhookKeySettings


class NinetyNineMindsWebhookSettings(WebhookKeySettings):
    """The 99minds subscription's webhook secret: its keys, and where a 99minds webhook carries the key, the event
    name and the record id (the ingress reads this secret only, never the partner credentials)."""

    # 99minds -> iPaaS.com webhooks (docs/ninetynine-minds-to-ipaas.md). 99minds publishes neither its webhook
    # payload nor the header carrying the key: like iPaaS.com's dynamic webhook receiver, each of the three is read
    # from a location ("header:<name>", "body:<JSON path>", "url:<segment after /hooks/99minds/{id}/>"); the
    # defaults are iPaaS.com's own template receiver (Authorization Bearer, $.scope, $.external_id): assumptions.
    webhook_key_location: str = Field(
        alias="Webhook Key Location", default="header:Authorization", pattern=r"^(header|body|url):.+$"
    )
    webhook_event_location: str = Field(alias="Webhook Event Location", default="body:$.scope", pattern=r"^(header|body|url):.+$")
    webhook_record_id_location: str = Field(
        alias="Webhook Record Id Location", default="body:$.external_id", pattern=r"^(header|body|url):.+$"
    )
    # event names -> what changed (customer/* is published; the loyalty point webhook's names are not)
    loyalty_transaction_events: tuple[str, ...] = Field(
        alias="Loyalty Transaction Events",
        default=("loyalty_transaction/created", "loyalty_transaction/updated", "loyalty_transaction/deleted"),
    )
    customer_events: tuple[str, ...] = Field(
        alias="Customer Events", default=("customer/created", "customer/updated", "customer/deleted")
    )


class StoreRef(BaseModel):
    """The 99minds store every write carries: exactly one of Store Ref Id / Client Store Id."""

    kind: Literal["store_ref_id", "client_store_id"]
    value: str


class NinetyNineMindsSettings(SubscriptionSettings):
    platform: Literal["99minds"] = Field(alias="Platform")
    api_url: str = Field(alias="API Url", default="https://api.giftcard.99minds.io", pattern=r"^https?://")
    api_secret_key: SecretStr = Field(alias="API Secret Key", min_length=1)
    store_ref_id: str | None = Field(alias="Store Ref Id", default=None)
    client_store_id: str | None = Field(alias="Client Store Id", default=None)
    campaign_id: str | None = Field(alias="Campaign Id", default=None)
    # Gift card money (docs/giftcards.md, "Proof of an earlier attempt"). NOT published by 99minds, assumed, adjustable:
    # - the body field of every reload/redemption that carries our reference for the activity (its identity); the
    #   same field names the reference in the card's history entries. Blank: 99minds takes no reference, so a
    #   retry after a lost answer can never be proven and always parks as UncertainOutcome.
    # - the card-history lookup by that reference: a path on the API Url with {card_id} (the 99minds card id),
    #   {card_number} and {reference}, answered as {code, message, data: {transactions: [...]}}. The default mirrors
    #   the published loyalty-card lookup (GET /api/v1/ipaas/loyaltycards/transactions?card_id=&client_order_id=).
    #   Blank: no lookup, every lost answer parks as UncertainOutcome.
    activity_reference_field: str | None = Field(
        alias="Gift Card Activity Reference Field", default="reference_id", pattern=r"^$|^[A-Za-z_][A-Za-z0-9_]*$"
    )
    activity_history_path: str | None = Field(
        alias="Gift Card History Path",
        default="/api/v1/giftcards/transactions?card_id={card_id}&reference_id={reference}",
        pattern=r"^$|^/",
    )
    # 99minds: 150 requests per minute per IP address (seed), the pre-populated throttle.
    api_throttle_limit: int = Field(alias="API Throttle Limit", default=150, gt=0)
    api_throttle_seconds: int = Field(alias="API Throttle Seconds", default=60, gt=0)

    # the iPaaS.com side of a loyalty transaction (TransactionNumber = prefix + separator + 99minds id)
    loyalty_transaction_number_prefix: str = Field(alias="Loyalty Transaction Number Prefix", default="99minds", min_length=1)
    loyalty_transaction_number_separator: str = Field(alias="Loyalty Transaction Number Separator", default="")
    loyalty_ticket_status: str = Field(alias="Loyalty Ticket Status", default="Complete", min_length=1)
    # 99minds transaction types never transferred (reversals; matched ignoring case, spaces, dashes, underscores)
    skipped_loyalty_transaction_types: tuple[str, ...] = Field(
        alias="Skipped Loyalty Transaction Types", default=("reversal", "reversed", "reverse", "void", "deleted")
    )
    loyalty_points_field: str = Field(alias="Loyalty Points Custom Field", default="99minds Loyalty Points", min_length=1)
    loyalty_type_field: str = Field(
        alias="Loyalty Transaction Type Custom Field", default="99minds Loyalty Transaction Type", min_length=1
    )
    loyalty_card_field: str = Field(alias="Loyalty Card Id Custom Field", default="99minds Loyalty Card Id", min_length=1)
    customer_card_field: str = Field(
        alias="Customer Loyalty Card Id Custom Field", default="99minds Loyalty Card Id", min_length=1
    )
    customer_points_field: str = Field(
        alias="Customer Points Balance Custom Field", default="99minds Points Balance", min_length=1
    )

    @field_validator("loyalty_points_field", "loyalty_type_field", "loyalty_card_field")
    @classmethod
    def _not_the_workflow_input(cls, value: str) -> str:
        # LoyaltyPointsClaimed is read by the order workflow (FROM iPaaS.com): writing points back into it would
        # change the order's workflow payload and send it to 99minds again (an echo loop)
        if value.strip().lower() == "loyaltypointsclaimed":
            raise ValueError("'LoyaltyPointsClaimed' is the order workflow's input; use another custom field name")
        return value.strip()

    @model_validator(mode="after")
    def _exactly_one_store(self) -> NinetyNineMindsSettings:
        ref, client = (self.store_ref_id or "").strip(), (self.client_store_id or "").strip()
        if ref and client:
            raise ValueError("set exactly one of 'Store Ref Id' or 'Client Store Id', not both")
        if not ref and not client:
            raise ValueError("missing setting 'Store Ref Id' or 'Client Store Id' (99minds requires a store on every write)")
        return self

    @field_validator("activity_history_path")
    @classmethod
    def _history_path_placeholders(cls, value: str | None) -> str | None:
        if value and "{reference}" not in value:
            raise ValueError("the gift card history lookup must carry {reference} (the activity reference)")
        if value:
            try:
                value.format(card_id="", card_number="", reference="")
            except (KeyError, IndexError, ValueError):
                raise ValueError("only the placeholders {card_id}, {card_number} and {reference} are known") from None
        return value or None

    @property
    def reference_field(self) -> str | None:
        return (self.activity_reference_field or "").strip() or None

    @property
    def store(self) -> StoreRef:
        ref = (self.store_ref_id or "").strip()
        if ref:
            return StoreRef(kind="store_ref_id", value=ref)
        return StoreRef(kind="client_store_id", value=(self.client_store_id or "").strip())
