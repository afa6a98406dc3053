"""The provider fakes behave like the real APIs as far as the real SDKs can tell.

No database: these tests only drive the stripe, twilio, intuitlib and python-quickbooks
SDKs against the loopback fakes in ``tests.fakes``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import stripe
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError
from quickbooks import QuickBooks
from quickbooks.exceptions import AuthorizationException, QuickbooksException
from quickbooks.objects.base import LinkedTxn, Ref
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.payment import Payment, PaymentLine
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client as TwilioClient

from tests.fakes.base import RecordedRequest, Response, WebhookSink
from tests.fakes.quickbooks_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    TAX_CODE_HST_ON,
    QuickBooksFake,
)
from tests.fakes.stripe_server import DEFAULT_WEBHOOK_SECRET, StripeFake
from tests.fakes.twilio_server import MAGIC_INVALID_NUMBER, MAGIC_UNSUBSCRIBED_NUMBER, TwilioFake

if TYPE_CHECKING:
    from stripe.params.checkout import SessionCreateParams

CONNECTED_ACCOUNT = "acct_1FakeContractor01"
REDIRECT_URI = "https://app.example/integrations/quickbooks/callback"


# -- a webhook receiver that verifies like the app will ---------------------------------------


class VerifyingStripeReceiver(WebhookSink):
    """Accepts only webhooks that ``stripe.Webhook.construct_event`` verifies."""

    verified: list[stripe.Event]

    def reset_state(self) -> None:
        super().reset_state()
        self.verified = []

    def dispatch(self, request: RecordedRequest) -> Response:
        signature = request.header("Stripe-Signature")
        try:
            event = stripe.Webhook.construct_event(request.body, signature, DEFAULT_WEBHOOK_SECRET)
        except (ValueError, stripe.SignatureVerificationError) as exc:
            return Response(400, str(exc).encode())
        with self.lock:
            self.verified.append(event)
        return Response(200, b"ok")


@pytest.fixture(scope="module")
def stripe_receiver_server():
    with VerifyingStripeReceiver() as server:
        yield server


@pytest.fixture
def stripe_receiver(stripe_receiver_server, fake_stripe: StripeFake) -> VerifyingStripeReceiver:
    stripe_receiver_server.reset()
    fake_stripe.webhook_url = stripe_receiver_server.url + "/webhooks/stripe"
    return stripe_receiver_server


def session_params(**overrides: Any) -> SessionCreateParams:
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": "cad",
                    "unit_amount": 12_500,
                    "product_data": {"name": "Eavestrough cleaning"},
                },
                "quantity": 2,
            }
        ],
        "success_url": "https://app.example/pay/done?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://app.example/pay/cancelled",
        "customer_email": "homeowner@example.com",
        "client_reference_id": "invoice-42",
        "metadata": {"invoice_id": "42", "tenant": "acme"},
        "payment_intent_data": {"metadata": {"invoice_id": "42"}},
    }
    # A cast, because some tests pass deliberately invalid overrides.
    return cast("SessionCreateParams", {**params, **overrides})


def connected(key: str | None = None) -> stripe.RequestOptions:
    options: stripe.RequestOptions = {"stripe_account": CONNECTED_ACCOUNT}
    if key:
        options["idempotency_key"] = key
    return options


# -- Stripe -----------------------------------------------------------------------------------


def test_stripe_checkout_session_on_connected_account(
    fake_stripe: StripeFake, stripe_client: stripe.StripeClient
) -> None:
    sessions = stripe_client.v1.checkout.sessions
    session = sessions.create(session_params(), connected("checkout-invoice-42"))

    assert session.id.startswith("cs_test_")
    assert session.object == "checkout.session"
    assert session.url == f"{fake_stripe.url}/pay/{session.id}"
    assert (session.amount_total, session.currency) == (25_000, "cad")
    assert (session.status, session.payment_status, session.payment_intent) == (
        "open",
        "unpaid",
        None,
    )
    assert session.metadata is not None
    assert session.metadata.to_dict() == {"invoice_id": "42", "tenant": "acme"}
    assert session.customer_email == "homeowner@example.com"
    assert session.client_reference_id == "invoice-42"
    assert session.expires_at > time.time()
    assert fake_stripe.account_of(session.id) == CONNECTED_ACCOUNT

    sent = fake_stripe.last_request("/v1/checkout/sessions", "POST")
    assert sent.header("Authorization") == "Bearer sk_test_fake"
    assert sent.header("Stripe-Account") == CONNECTED_ACCOUNT
    assert sent.header("Idempotency-Key") == "checkout-invoice-42"
    assert sent.form["line_items"][0]["price_data"]["unit_amount"] == "12500"
    assert sent.form["metadata"] == {"invoice_id": "42", "tenant": "acme"}

    assert sessions.retrieve(session.id, options=connected()).id == session.id
    # Objects live on the connected account: the platform cannot see them without the header.
    with pytest.raises(stripe.InvalidRequestError) as missing:
        sessions.retrieve(session.id)
    assert missing.value.http_status == 404
    assert missing.value.code == "resource_missing"


def test_stripe_idempotency_replays_and_rejects_changed_params(
    stripe_client: stripe.StripeClient,
) -> None:
    sessions = stripe_client.v1.checkout.sessions
    first = sessions.create(session_params(), connected("key-1"))
    assert sessions.create(session_params(), connected("key-1")).id == first.id

    with pytest.raises(stripe.IdempotencyError) as error:
        sessions.create(session_params(client_reference_id="other"), connected("key-1"))
    assert error.value.http_status == 400
    assert error.value.error is not None
    assert error.value.error.type == "idempotency_error"


def test_stripe_hosted_page_payment_sends_verified_webhook(
    fake_stripe: StripeFake,
    stripe_client: stripe.StripeClient,
    stripe_receiver: VerifyingStripeReceiver,
) -> None:
    session = stripe_client.v1.checkout.sessions.create(session_params(), connected())

    assert session.url is not None
    page = requests.get(session.url, timeout=5)
    assert page.status_code == 200
    assert 'id="pay"' in page.text and "$250.00 CAD" in page.text

    paid = requests.post(session.url, data={"action": "pay"}, allow_redirects=False, timeout=5)
    assert paid.status_code == 303
    assert paid.headers["Location"] == f"https://app.example/pay/done?session={session.id}"

    [event] = stripe_receiver.verified
    assert event.type == "checkout.session.completed"
    assert event.id.startswith("evt_")
    assert event.account == CONNECTED_ACCOUNT
    assert event.data.object.id == session.id
    assert event.data.object.payment_status == "paid"
    _assert_stripe_signature(stripe_receiver.requests[0])

    done = stripe_client.v1.checkout.sessions.retrieve(
        session.id, {"expand": ["payment_intent"]}, connected()
    )
    assert (done.status, done.payment_status, done.url) == ("complete", "paid", None)
    intent = done.payment_intent
    assert isinstance(intent, stripe.PaymentIntent)  # expanded, not just an id
    assert intent.id.startswith("pi_") and intent.status == "succeeded"
    assert intent.metadata.to_dict() == {"invoice_id": "42"}
    assert isinstance(intent.latest_charge, str)
    charge = stripe_client.v1.charges.retrieve(intent.latest_charge, options=connected())
    assert (charge.id[:3], charge.amount, charge.paid) == ("ch_", 25_000, True)


def _assert_stripe_signature(request: RecordedRequest) -> None:
    """Check the header against Stripe's documented scheme, independently of the SDK."""
    header = request.header("Stripe-Signature") or ""
    fields = {key: value for key, _, value in (part.partition("=") for part in header.split(","))}
    signed = f"{fields['t']}.".encode() + request.body
    expected = hmac.new(DEFAULT_WEBHOOK_SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert fields["v1"] == expected
    assert abs(int(fields["t"]) - time.time()) < 60


def test_stripe_hosted_page_cancel_redirects_without_paying(
    fake_stripe: StripeFake, stripe_client: stripe.StripeClient
) -> None:
    session = stripe_client.v1.checkout.sessions.create(session_params())
    assert session.url is not None
    answer = requests.post(session.url, data={"action": "cancel"}, allow_redirects=False, timeout=5)
    assert answer.status_code == 303
    assert answer.headers["Location"] == "https://app.example/pay/cancelled"
    assert fake_stripe.get(session.id)["status"] == "open"


def test_stripe_refunds_update_the_charge(
    fake_stripe: StripeFake,
    stripe_client: stripe.StripeClient,
    stripe_receiver: VerifyingStripeReceiver,
) -> None:
    session = stripe_client.v1.checkout.sessions.create(session_params(), connected())
    intent_id = fake_stripe.complete_session(session.id, send_webhook=False)["payment_intent"]
    refunds = stripe_client.v1.refunds

    partial = refunds.create({"payment_intent": intent_id, "amount": 5_000}, connected())
    assert (partial.id[:3], partial.amount, partial.status) == ("re_", 5_000, "succeeded")
    charge_id = partial.charge
    assert isinstance(charge_id, str)
    rest = refunds.create({"charge": charge_id, "reason": "requested_by_customer"}, connected())
    assert rest.amount == 20_000
    assert refunds.retrieve(rest.id, options=connected()).charge == charge_id

    charge = stripe_client.v1.charges.retrieve(charge_id, options=connected())
    assert (charge.amount_refunded, charge.refunded) == (25_000, True)
    with pytest.raises(stripe.InvalidRequestError) as error:
        refunds.create({"charge": charge.id}, connected())
    assert error.value.code == "charge_already_refunded"

    delivery = fake_stripe.send_event(fake_stripe.build_event("charge.refunded", charge.to_dict()))
    assert delivery.ok
    assert stripe_receiver.verified[-1].data.object.amount_refunded == 25_000
    assert stripe_receiver.verified[-1].account == CONNECTED_ACCOUNT


def test_stripe_events_can_be_duplicated_reordered_and_concurrent(
    fake_stripe: StripeFake,
    stripe_client: stripe.StripeClient,
    stripe_receiver: VerifyingStripeReceiver,
) -> None:
    session = stripe_client.v1.checkout.sessions.create(session_params())
    completed = fake_stripe.complete_session(session.id, send_webhook=False)
    intent = fake_stripe.get(completed["payment_intent"])
    events = [
        fake_stripe.build_event("checkout.session.completed", completed),
        fake_stripe.build_event("payment_intent.payment_failed", intent),
        fake_stripe.build_event("checkout.session.async_payment_succeeded", completed),
    ]
    batch = [events[2], events[0], events[0], events[1], events[0], events[2]]
    with ThreadPoolExecutor(max_workers=6) as pool:
        deliveries = list(pool.map(fake_stripe.send_event, batch))

    assert all(d.ok for d in deliveries)
    received = sorted(e.id for e in stripe_receiver.verified)
    assert received == sorted(e["id"] for e in batch)

    forged = fake_stripe.send_event(events[0], secret="whsec_wrong")
    assert forged.status == 400


def test_stripe_expire_and_list_sessions(
    fake_stripe: StripeFake, stripe_client: stripe.StripeClient
) -> None:
    sessions = stripe_client.v1.checkout.sessions
    paid = sessions.create(session_params())
    intent_id = fake_stripe.complete_session(paid.id, send_webhook=False)["payment_intent"]
    stale = sessions.create(session_params())

    assert sessions.expire(stale.id).status == "expired"
    assert stale.url is not None
    assert [s.id for s in sessions.list({"payment_intent": intent_id})] == [paid.id]
    assert {s.id for s in sessions.list()} == {paid.id, stale.id}
    assert requests.get(stale.url, timeout=5).status_code == 410


def test_stripe_accounts_and_errors_have_stripe_shapes(
    fake_stripe: StripeFake, stripe_client: stripe.StripeClient
) -> None:
    fake_stripe.add_account(CONNECTED_ACCOUNT, charges_enabled=False)
    account = stripe_client.v1.accounts.retrieve(CONNECTED_ACCOUNT)
    assert (account.id, account.object, account.charges_enabled) == (
        CONNECTED_ACCOUNT,
        "account",
        False,
    )

    answer = requests.get(
        f"{fake_stripe.url}/v1/nope", headers={"Authorization": "Bearer sk_test_x"}, timeout=5
    )
    assert answer.status_code == 404
    assert answer.json()["error"]["type"] == "invalid_request_error"
    assert "Unrecognized request URL" in answer.json()["error"]["message"]

    with pytest.raises(stripe.InvalidRequestError, match="unknown parameter: colour"):
        stripe_client.v1.checkout.sessions.create(session_params(colour="blue"))
    unauthenticated = stripe.StripeClient(
        "pk_test_publishable", base_addresses={"api": fake_stripe.url}, max_network_retries=0
    )
    with pytest.raises(stripe.AuthenticationError):
        unauthenticated.v1.checkout.sessions.list()


# -- Twilio -----------------------------------------------------------------------------------


def test_twilio_message_create_and_fetch(
    fake_twilio: TwilioFake, twilio_client: TwilioClient
) -> None:
    message = twilio_client.messages.create(
        to="+14165550123", from_="+16475550000", body="Your crew arrives at 9am."
    )
    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert (message.status, message.to, message.from_) == ("queued", "+14165550123", "+16475550000")
    assert message.num_segments == "1"
    assert message.error_code is None
    assert message.date_created is not None
    assert twilio_client.messages(message.sid).fetch().body == "Your crew arrives at 9am."

    sent = fake_twilio.last_request("/2010-04-01/Accounts/", "POST")
    assert sent.path == f"/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json"
    assert sent.form == {
        "To": "+14165550123",
        "From": "+16475550000",
        "Body": "Your crew arrives at 9am.",
    }


@pytest.mark.parametrize(
    ("number", "code"),
    [(MAGIC_UNSUBSCRIBED_NUMBER, 21610), (MAGIC_INVALID_NUMBER, 21211), ("416-555-0199", 21211)],
)
def test_twilio_rejects_recipients_like_twilio(
    twilio_client: TwilioClient, number: str, code: int
) -> None:
    with pytest.raises(TwilioRestException) as error:
        twilio_client.messages.create(to=number, from_="+16475550000", body="hi")
    assert (error.value.code, error.value.status) == (code, 400)


def test_twilio_checks_credentials(fake_twilio: TwilioFake, twilio_client: TwilioClient) -> None:
    intruder = TwilioClient(fake_twilio.account_sid, "wrong", http_client=twilio_client.http_client)
    with pytest.raises(TwilioRestException) as error:
        intruder.messages.create(to="+14165550123", from_="+16475550000", body="hi")
    assert (error.value.code, error.value.status) == (20003, 401)


def test_twilio_status_callback_is_signed(
    fake_twilio: TwilioFake, twilio_client: TwilioClient, webhook_sink: WebhookSink
) -> None:
    callback_url = f"{webhook_sink.url}/webhooks/twilio/status?job=7"
    message = twilio_client.messages.create(
        to="+14165550123", from_="+16475550000", body="hi", status_callback=callback_url
    )
    assert fake_twilio.deliver(message.sid, "delivered").delivery.ok

    [callback] = webhook_sink.requests
    assert callback.form["MessageSid"] == message.sid
    assert callback.form["MessageStatus"] == "delivered"
    validator = RequestValidator(fake_twilio.auth_token)
    signature = callback.header("X-Twilio-Signature")
    assert validator.validate(callback_url, callback.form, signature)
    assert not validator.validate(
        callback_url, {**callback.form, "MessageStatus": "failed"}, signature
    )
    assert twilio_client.messages(message.sid).fetch().status == "delivered"


# -- QuickBooks / Intuit ----------------------------------------------------------------------


def test_intuit_refresh_rotates_refresh_tokens(
    fake_quickbooks: QuickBooksFake, quickbooks_auth_client: AuthClient
) -> None:
    first = quickbooks_auth_client.refresh_token
    quickbooks_auth_client.refresh()
    second = quickbooks_auth_client.refresh_token
    assert second != first
    assert quickbooks_auth_client.access_token
    assert quickbooks_auth_client.expires_in == 3600

    with pytest.raises(AuthClientError) as error:
        quickbooks_auth_client.refresh(refresh_token=first)
    assert error.value.status_code == 400
    assert b"invalid_grant" in error.value.content
    quickbooks_auth_client.refresh(refresh_token=second)  # the rotated one still works once


def test_intuit_authorization_code_flow(fake_quickbooks: QuickBooksFake) -> None:
    realm = fake_quickbooks.create_company()
    fake_quickbooks.consent_realm = realm
    auth = AuthClient(
        CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, environment=fake_quickbooks.discovery_url
    )
    consent = requests.get(
        auth.get_authorization_url([Scopes.ACCOUNTING], "state-123"),
        allow_redirects=False,
        timeout=5,
    )
    assert consent.status_code == 302
    location = urlsplit(consent.headers["Location"])
    answer = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert location.path == "/integrations/quickbooks/callback"
    assert (answer["state"], answer["realmId"]) == ("state-123", realm)

    auth.get_bearer_token(answer["code"], realm_id=answer["realmId"])
    assert auth.access_token and auth.refresh_token
    with pytest.raises(AuthClientError):  # codes are single-use
        auth.get_bearer_token(answer["code"])


def test_quickbooks_customer_save_and_query(
    fake_quickbooks: QuickBooksFake, quickbooks_client: QuickBooks
) -> None:
    customer = Customer()
    customer.DisplayName = "Jordan O'Neil"
    saved = customer.save(qb=quickbooks_client)
    assert saved.Id == customer.Id == "1"
    assert saved.SyncToken == "0"

    [found] = Customer.filter(DisplayName="Jordan O'Neil", qb=quickbooks_client)
    assert found.Id == saved.Id
    assert Customer.where("DisplayName LIKE 'jordan%'", qb=quickbooks_client)[0].Id == saved.Id
    assert Customer.filter(DisplayName="Nobody", qb=quickbooks_client) == []

    query = fake_quickbooks.last_request("/v3/company/", "POST")
    assert query.path.endswith("/query")
    assert query.query["minorversion"] == "75"

    duplicate = Customer()
    duplicate.DisplayName = "jordan o'neil"
    with pytest.raises(QuickbooksException) as error:
        duplicate.save(qb=quickbooks_client)
    assert error.value.error_code == 6240


def test_quickbooks_request_id_makes_create_idempotent(
    fake_quickbooks: QuickBooksFake, quickbooks_client: QuickBooks, quickbooks_realm: str
) -> None:
    ids = set()
    for _ in range(2):
        customer = Customer()
        customer.DisplayName = "Retry Homeowner"
        ids.add(customer.save(qb=quickbooks_client, request_id="sync-customer-17").Id)

    assert len(ids) == 1
    assert len(fake_quickbooks.entities(quickbooks_realm, "Customer")) == 1
    assert fake_quickbooks.last_request("/v3/").query["requestid"] == "sync-customer-17"


def test_quickbooks_invoice_tax_and_payment_balances(
    fake_quickbooks: QuickBooksFake, quickbooks_client: QuickBooks
) -> None:
    customer = Customer()
    customer.DisplayName = "Sam Patel"
    customer = customer.save(qb=quickbooks_client)

    invoice = Invoice()
    invoice.CustomerRef = customer.to_ref()
    invoice.Line = [_sales_line(Decimal("2"), Decimal("75.00"))]
    invoice = invoice.save(qb=quickbooks_client)
    # 150.00 + 13 % HST; use_decimal=True means amounts come back as Decimal.
    assert invoice.TotalAmt == Decimal("169.50") and isinstance(invoice.TotalAmt, Decimal)
    assert invoice.Balance == Decimal("169.50")
    assert invoice.TxnTaxDetail.TotalTax == Decimal("19.50")

    payment = Payment()
    payment.CustomerRef = customer.to_ref()
    payment.TotalAmt = Decimal("169.50")
    payment.Line = [_payment_line(invoice.Id, Decimal("169.50"))]
    payment = payment.save(qb=quickbooks_client)
    assert payment.UnappliedAmt == 0

    assert Invoice.get(invoice.Id, qb=quickbooks_client).Balance == 0
    assert Customer.get(customer.Id, qb=quickbooks_client).Balance == 0

    stale = Invoice.get(invoice.Id, qb=quickbooks_client)
    stale.SyncToken = "0"
    with pytest.raises(QuickbooksException) as error:
        stale.save(qb=quickbooks_client)
    assert error.value.error_code == 5010


def test_quickbooks_rejects_untaxed_lines_and_expired_tokens(
    fake_quickbooks: QuickBooksFake, quickbooks_client: QuickBooks
) -> None:
    customer = Customer()
    customer.DisplayName = "No Tax Code"
    customer = customer.save(qb=quickbooks_client)
    invoice = Invoice()
    invoice.CustomerRef = customer.to_ref()
    invoice.Line = [_sales_line(Decimal("1"), Decimal("10.00"), tax_code=None)]
    with pytest.raises(QuickbooksException) as error:
        invoice.save(qb=quickbooks_client)
    assert error.value.error_code == 6000

    fake_quickbooks.expire_access_tokens()
    with pytest.raises(AuthorizationException):
        Customer.all(qb=quickbooks_client)


def _sales_line(
    qty: Decimal, price: Decimal, tax_code: str | None = TAX_CODE_HST_ON
) -> SalesItemLine:
    detail = SalesItemLineDetail()
    detail.Qty, detail.UnitPrice = qty, price
    if tax_code:
        detail.TaxCodeRef = Ref()
        detail.TaxCodeRef.value = tax_code
    line = SalesItemLine()
    line.Amount = qty * price
    line.SalesItemLineDetail = detail
    return line


def _payment_line(invoice_id: str, amount: Decimal) -> PaymentLine:
    link = LinkedTxn()
    link.TxnId, link.TxnType = invoice_id, "Invoice"
    line = PaymentLine()
    line.Amount = amount
    line.LinkedTxn = [link]
    return line


def test_stripe_outage_switches_fail_the_api_and_hold_webhooks_until_released(
    fake_stripe: StripeFake,
    stripe_client: stripe.StripeClient,
    stripe_receiver: VerifyingStripeReceiver,
) -> None:
    sessions = stripe_client.v1.checkout.sessions
    first = sessions.create(session_params(), connected())
    second = sessions.create(session_params(), connected())

    fake_stripe.api_failure = 500
    with pytest.raises(stripe.APIError):
        sessions.retrieve(first.id, options=connected())
    fake_stripe.hold_webhooks = True
    for session in (first, second):
        paid = requests.post(
            f"{fake_stripe.url}/pay/{session.id}", data={"action": "pay"}, allow_redirects=False
        )
        assert paid.status_code == 303
    assert len(fake_stripe.held) == 2 and stripe_receiver.verified == []

    fake_stripe.api_failure = None
    assert sessions.retrieve(first.id, options=connected()).payment_status == "paid"
    deliveries = fake_stripe.release_held(drop=lambda i: i == 1)  # the second is lost
    assert [d.ok for d in deliveries] == [True]
    assert [e.data.object.id for e in stripe_receiver.verified] == [first.id]
    assert fake_stripe.held == [] and not fake_stripe.hold_webhooks
