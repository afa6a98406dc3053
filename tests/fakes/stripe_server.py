"""A fake of the Stripe API v1 (Checkout, PaymentIntents, Charges, Refunds, Accounts,
Account Links with a hosted onboarding page).

The real ``stripe`` SDK talks to it over HTTP. Point a client at it with::

    client = stripe.StripeClient(
        "sk_test_fake",
        base_addresses={"api": url, "connect": url, "files": url, "meter_events": url},
    )

Object shapes are Stripe's own example objects (``data/stripe_objects.json``, MIT, copied
from stripe/openapi) with the fields this fake simulates overwritten.

Behaviour worth knowing:

* Requests need ``Authorization: Bearer sk_...``/``rk_...`` (any such key unless
  ``api_keys`` is set). A ``Stripe-Account`` header scopes objects to that connected
  account: an object made on one account is "No such ..." from any other.
* ``Idempotency-Key`` is honoured per (key, account, api key): a replay returns the first
  response; the same key with other params or another endpoint is a 400 idempotency_error.
* API calls never send webhooks (real Stripe sends them asynchronously; sending them
  synchronously from inside an API call could deadlock an app that holds a DB lock).
  Webhooks are sent by the hosted page (``POST /pay/<id>``) and by the ``complete_session``,
  ``expire_session``, ``fail_session_payment``, ``settle_async_payment`` and ``send_event``
  helpers, to ``webhook_url`` signed with ``webhook_secret`` (the page and the helpers
  skip delivery while ``webhook_url`` is None; ``send_event`` then raises).
* Outages (off by default): ``api_failure = 500`` answers every API call (``/v1/``) with
  Stripe's ``api_error`` 500 until set back to None; ``stall("/v1/", seconds)`` makes the
  API hang (a timeout for the client); ``hold_webhooks = True`` keeps the events that would
  be delivered in ``held`` instead, until ``release_held`` delivers them (Stripe's retries
  after an outage), optionally dropping some (a webhook lost for good).
"""

from __future__ import annotations

import copy
import html
import json
import re
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import stripe

from .base import (
    Delivery,
    FakeServer,
    RecordedRequest,
    Response,
    html_response,
    json_response,
    post,
    redirect,
)

DEFAULT_WEBHOOK_SECRET = "whsec_fake_stripe_webhook_secret"
API_VERSION = stripe.api_version
SESSION_LIFETIME_SECONDS = 24 * 60 * 60
# Stripe's documented limits: expires_at from 30 minutes to 24 hours after creation, and at most
# 8 digits in the smallest currency unit per charge (99,999,999 cents = $999,999.99).
SESSION_MIN_LIFETIME_SECONDS = 30 * 60
SESSION_MAX_LIFETIME_SECONDS = SESSION_LIFETIME_SECONDS
MAX_AMOUNT = 99_999_999
_DATA_FILE = Path(__file__).parent / "data" / "stripe_objects.json"
_ALPHABET = string.ascii_letters + string.digits

# Event types the helpers know about, with the object type each carries in data.object.
EVENT_OBJECT_TYPES = {
    "checkout.session.completed": "checkout.session",
    "checkout.session.expired": "checkout.session",
    "checkout.session.async_payment_succeeded": "checkout.session",
    "checkout.session.async_payment_failed": "checkout.session",
    "payment_intent.succeeded": "payment_intent",
    "payment_intent.payment_failed": "payment_intent",
    "charge.succeeded": "charge",
    "charge.failed": "charge",
    "charge.refunded": "charge",
    "refund.created": "refund",
    "account.updated": "account",
}

# Stripe rejects parameters it does not know; so does the fake, which catches typos.
SESSION_CREATE_PARAMS = frozenset(
    [
        "adaptive_pricing",
        "after_expiration",
        "allow_promotion_codes",
        "automatic_tax",
        "billing_address_collection",
        "branding_settings",
        "cancel_url",
        "client_reference_id",
        "consent_collection",
        "currency",
        "custom_fields",
        "custom_text",
        "customer",
        "customer_creation",
        "customer_email",
        "customer_update",
        "discounts",
        "excluded_payment_method_types",
        "expand",
        "expires_at",
        "integration_identifier",
        "invoice_creation",
        "line_items",
        "locale",
        "managed_payments",
        "metadata",
        "mode",
        "name_collection",
        "optional_items",
        "origin_context",
        "payment_intent_data",
        "payment_method_collection",
        "payment_method_configuration",
        "payment_method_data",
        "payment_method_options",
        "payment_method_types",
        "permissions",
        "phone_number_collection",
        "redirect_on_completion",
        "return_url",
        "saved_payment_method_options",
        "setup_intent_data",
        "shipping_address_collection",
        "shipping_options",
        "submit_type",
        "subscription_data",
        "success_url",
        "tax_id_collection",
        "ui_mode",
        "wallet_options",
    ]
)
REFUND_CREATE_PARAMS = frozenset(
    [
        "amount",
        "charge",
        "currency",
        "customer",
        "expand",
        "instructions_email",
        "metadata",
        "origin",
        "payment_intent",
        "reason",
        "refund_application_fee",
        "reverse_transfer",
    ]
)
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
CUSTOMER_CREATE_PARAMS = frozenset(
    ["address", "description", "email", "expand", "metadata", "name", "phone", "payment_method"]
)
INTENT_CREATE_PARAMS = frozenset(
    [
        "amount",
        "confirm",
        "currency",
        "customer",
        "description",
        "error_on_requires_action",
        "expand",
        "metadata",
        "off_session",
        "payment_method",
        "payment_method_types",
        "receipt_email",
        "statement_descriptor_suffix",
    ]
)
ACCOUNT_CREATE_PARAMS = frozenset(
    [
        "business_type",
        "capabilities",
        "controller",
        "country",
        "email",
        "expand",
        "metadata",
        "type",
    ]
)
ACCOUNT_LINK_PARAMS = frozenset(
    ["account", "collect", "expand", "refresh_url", "return_url", "type"]
)


class StripeError(Exception):
    """Raised inside handlers; rendered as Stripe's ``{"error": {...}}`` body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.payload: dict[str, Any] = {"type": type_, "message": message}
        if code:
            self.payload["code"] = code
            self.payload["doc_url"] = (
                f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
            )
        if param:
            self.payload["param"] = param

    def response(self) -> Response:
        return json_response({"error": self.payload}, self.status)


def missing(kind: str, object_id: str, param: str) -> StripeError:
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


@dataclass(frozen=True)
class ApiCall:
    request: RecordedRequest
    params: dict[str, Any]
    account: str | None
    api_key: str


@dataclass(frozen=True)
class _Remembered:
    fingerprint: tuple[str, str, str]
    response: Response


ApiHandler = Callable[[ApiCall, dict[str, str]], dict[str, Any]]


# -- form decoding ----------------------------------------------------------------------------


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Decode Stripe's bracketed form keys into nested dicts and lists.

    ``line_items[0][price_data][unit_amount]=500`` becomes
    ``{"line_items": [{"price_data": {"unit_amount": "500"}}]}``. Values stay strings,
    as on the wire; handlers coerce the ones they need.
    """
    root: dict[str, Any] = {}
    for key, value in pairs:
        head, bracket, rest = key.partition("[")
        parts = [head, *rest.rstrip("]").split("][")] if bracket else [head]
        node = root
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        leaf = parts[-1] or str(len(node))  # "expand[]" style appends
        node[leaf] = value
    return _listify(root, is_metadata=False)


def _listify(node: Any, *, is_metadata: bool) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _listify(v, is_metadata=k == "metadata") for k, v in node.items()}
    indexes = sorted(int(k) for k in converted if k.isdigit())
    # Metadata keys are free text; "0" there is a key, not a list index.
    if converted and not is_metadata and indexes == list(range(len(converted))):
        return [converted[str(i)] for i in indexes]
    return converted


def to_int(params: dict[str, Any], name: str, *, path: str | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StripeError(400, f"Invalid integer: {value}", param=path or name) from None


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _now() -> int:
    return int(time.time())


def load_templates() -> dict[str, dict[str, Any]]:
    return json.loads(_DATA_FILE.read_text())["resources"]


# -- the server -------------------------------------------------------------------------------


class StripeFake(FakeServer):
    """Fake Stripe. Configure ``webhook_url``/``webhook_secret`` per test."""

    webhook_url: str | None
    webhook_secret: str
    api_keys: set[str] | None
    objects: dict[str, dict[str, Any]]
    owners: dict[str, str | None]
    events: list[dict[str, Any]]
    deliveries: list[Delivery]

    def __init__(self) -> None:
        self.templates = load_templates()
        super().__init__()

    def reset_state(self) -> None:
        self.webhook_url = None
        self.webhook_secret = DEFAULT_WEBHOOK_SECRET
        self.api_keys = None  # None: any sk_/rk_ key is accepted
        self.objects = {}  # every object by id, whatever its type
        self.owners = {}  # object id -> connected account it lives on (None: platform)
        self.events = []  # every event built, delivered or not
        self.deliveries = []
        self._line_items: dict[str, list[dict[str, Any]]] = {}
        self._intent_data: dict[str, dict[str, Any]] = {}
        self._idempotency: dict[tuple[str, str | None, str], _Remembered] = {}
        self._account_links: dict[str, dict[str, Any]] = {}
        # Saved cards' behaviour off-session, by payment method id: "succeeded" (default),
        # "authentication_required" or "card_declined".
        self.off_session_outcomes: dict[str, str] = {}
        self.api_failure: int | None = None  # e.g. 500: every API call fails (an outage)
        self.hold_webhooks = False
        self.held: list[dict[str, Any]] = []  # events kept back while hold_webhooks

    def parse_params(self, pairs: list[tuple[str, str]]) -> dict[str, Any]:
        return decode_form(pairs)

    def setup_routes(self) -> None:
        sid = r"(?P<id>[^/]+)"
        api = self._api_route
        api("POST", r"/v1/checkout/sessions", self._create_session)
        api("GET", r"/v1/checkout/sessions", self._list_sessions)
        api("GET", rf"/v1/checkout/sessions/{sid}", self._retrieve("checkout.session", "session"))
        api("GET", rf"/v1/checkout/sessions/{sid}/line_items", self._list_line_items)
        api("POST", rf"/v1/checkout/sessions/{sid}/expire", self._expire_session_api)
        api("GET", rf"/v1/payment_intents/{sid}", self._retrieve("payment_intent", "intent"))
        api("POST", r"/v1/payment_intents", self._create_intent)
        api("POST", r"/v1/customers", self._create_customer)
        api("GET", rf"/v1/customers/{sid}", self._retrieve("customer", "customer"))
        api(
            "GET", rf"/v1/payment_methods/{sid}", self._retrieve("payment_method", "payment_method")
        )
        api("POST", rf"/v1/payment_methods/{sid}/detach", self._detach_payment_method)
        api("GET", rf"/v1/charges/{sid}", self._retrieve("charge", "charge"))
        api("POST", r"/v1/refunds", self._create_refund)
        api("GET", rf"/v1/refunds/{sid}", self._retrieve("refund", "refund"))
        api("GET", rf"/v1/accounts/{sid}", self._retrieve_account)
        api("POST", r"/v1/accounts", self._create_account)
        api("POST", r"/v1/account_links", self._create_account_link)
        self.add_route("GET", rf"/connect/onboard/{sid}", self._onboarding_page)
        self.add_route("POST", rf"/connect/onboard/{sid}", self._onboarding_submit)
        self.add_route("GET", rf"/pay/{sid}", self._hosted_page)
        self.add_route("POST", rf"/pay/{sid}", self._hosted_submit)
        self.add_route("GET", rf"/receipts/{sid}", self._receipt_page)

    def not_found(self, request: RecordedRequest) -> Response:
        return StripeError(
            404,
            f"Unrecognized request URL ({request.method}: {request.path}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/.",
        ).response()

    # -- API plumbing: auth, connected accounts, idempotency ------------------------------

    def _api_route(self, method: str, pattern: str, handler: ApiHandler) -> None:
        def route(request: RecordedRequest, match: re.Match[str]) -> Response:
            return self._call_api(request, match.groupdict(), handler)

        self.add_route(method, pattern, route)

    def _call_api(
        self, request: RecordedRequest, path_args: dict[str, str], handler: ApiHandler
    ) -> Response:
        if self.api_failure:
            return StripeError(
                self.api_failure, "An unknown error occurred", type_="api_error"
            ).response()
        try:
            api_key = self._authenticate(request)
            account = request.header("Stripe-Account")
            if account is not None and not account.startswith("acct_"):
                raise StripeError(400, f"Invalid Stripe-Account header: '{account}'")
        except StripeError as exc:
            return exc.response()
        params = request.form if request.method == "POST" else request.query
        call = ApiCall(request, params, account, api_key)
        key = request.header("Idempotency-Key") if request.method == "POST" else None
        # The whole call runs under the lock so a replayed key can never create twice.
        with self.lock:
            if key is None:
                return self._run(call, path_args, handler)
            return self._run_idempotent(call, path_args, handler, key)

    def _authenticate(self, request: RecordedRequest) -> str:
        auth = request.header("Authorization") or ""
        scheme, _, key = auth.partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise StripeError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
            )
        valid = key in self.api_keys if self.api_keys is not None else key[:3] in ("sk_", "rk_")
        if not valid:
            raise StripeError(401, f"Invalid API Key provided: {key[:8]}****{key[-4:]}")
        return key

    def _run(self, call: ApiCall, path_args: dict[str, str], handler: ApiHandler) -> Response:
        try:
            payload = handler(call, path_args)
        except StripeError as exc:
            return exc.response()
        expand = call.params.get("expand") or []
        payload = self._expand(payload, expand if isinstance(expand, list) else [expand], call)
        return json_response(payload, headers={"Request-Id": new_id("req_", 14)})

    def _run_idempotent(
        self, call: ApiCall, path_args: dict[str, str], handler: ApiHandler, key: str
    ) -> Response:
        scope = (call.api_key, call.account, key)
        fingerprint = (
            call.request.method,
            call.request.path,
            json.dumps(call.params, sort_keys=True),
        )
        remembered = self._idempotency.get(scope)
        if remembered is None:
            response = self._run(call, path_args, handler)
            response.headers["Idempotency-Key"] = key
            if response.status < 500:  # Stripe does not save the result of a 5xx
                self._idempotency[scope] = _Remembered(fingerprint, response)
            return response
        if remembered.fingerprint != fingerprint:
            return StripeError(
                400,
                "Keys for idempotent requests can only be used with the same parameters "
                f"they were first used with. Try using a key other than '{key}' if you meant "
                "to execute a different request.",
                type_="idempotency_error",
            ).response()
        replay = remembered.response
        return Response(
            replay.status, replay.body, {**replay.headers, "Idempotent-Replayed": "true"}
        )

    def _expand(self, payload: dict[str, Any], paths: list[str], call: ApiCall) -> dict[str, Any]:
        for path in paths:
            self._expand_path(payload, path.split("."), call.account)
        return payload

    def _expand_path(self, node: dict[str, Any], parts: list[str], account: str | None) -> None:
        head, rest = parts[0], parts[1:]
        value = node.get(head)
        if head == "data" and isinstance(value, list):
            for item in value:
                self._expand_path(item, rest, account)
            return
        if isinstance(value, str) and value in self.objects and self.owners[value] == account:
            node[head] = value = copy.deepcopy(self.objects[value])
        if rest and isinstance(value, dict):
            self._expand_path(value, rest, account)

    def _owned(self, kind: str, object_id: str, account: str | None, param: str) -> dict[str, Any]:
        obj = self.objects.get(object_id)
        if obj is None or obj["object"] != kind or self.owners[object_id] != account:
            raise missing(kind, object_id, param)
        return obj

    def _store(self, obj: dict[str, Any], account: str | None) -> dict[str, Any]:
        self.objects[obj["id"]] = obj
        self.owners[obj["id"]] = account
        return obj

    def _retrieve(self, kind: str, param: str) -> ApiHandler:
        def handler(call: ApiCall, args: dict[str, str]) -> dict[str, Any]:
            obj = self._owned(kind, args["id"], call.account, param)
            if kind == "checkout.session":
                self._expire_if_past(obj)
            return copy.deepcopy(obj)

        return handler

    # -- Checkout Sessions ----------------------------------------------------------------

    def _create_session(self, call: ApiCall, _args: dict[str, str]) -> dict[str, Any]:
        params = call.params
        _reject_unknown(params, SESSION_CREATE_PARAMS)
        mode = _required(params, "mode")
        if mode != "payment":
            raise StripeError(
                400, f"The fake only supports mode=payment, not {mode!r}.", param="mode"
            )
        items = [self._line_item(raw, i) for i, raw in enumerate(_required(params, "line_items"))]
        currencies = {item["currency"] for item in items}
        if len(currencies) != 1:
            raise StripeError(400, "All line items must use the same currency.", param="line_items")
        metadata = _metadata(params)
        amount = sum(item["amount_total"] for item in items)
        currency = currencies.pop()
        _check_amount(amount, currency)
        created = _now()
        expires_at = _session_expires_at(params, created)
        session = copy.deepcopy(self.templates["checkout.session"])
        session_id = new_id("cs_test_a1", 56)
        session.update(
            id=session_id,
            url=f"{self.url}/pay/{session_id}",
            amount_subtotal=amount,
            amount_total=amount,
            currency=currency,
            created=created,
            expires_at=expires_at,
            metadata=metadata,
            mode=mode,
            status="open",
            payment_status="unpaid",
            payment_intent=None,
            success_url=params.get("success_url"),
            cancel_url=params.get("cancel_url"),
            client_reference_id=params.get("client_reference_id"),
            customer=params.get("customer"),
            customer_email=params.get("customer_email"),
            customer_details=None,
            locale=params.get("locale"),
            submit_type=params.get("submit_type"),
            # Neutralise the template's example values for features the fake does not model.
            adaptive_pricing=None,
            after_expiration=None,
            collected_information=None,
            currency_conversion=None,
            custom_text={
                k: None
                for k in (
                    "after_submit",
                    "shipping_address",
                    "submit",
                    "terms_of_service_acceptance",
                )
            },
            invoice_creation=None,
            managed_payments=None,
            payment_method_configuration_details=None,
            shipping_address_collection=None,
            shipping_cost=None,
            total_details={"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        )
        intent_data = params.get("payment_intent_data") or {}
        to_int(
            intent_data,
            "application_fee_amount",
            path="payment_intent_data[application_fee_amount]",
        )
        types, options = _payment_method_settings(params, currency)
        session["payment_method_types"] = types
        session["payment_method_options"] = options
        self._line_items[session_id] = items
        self._intent_data[session_id] = intent_data
        return copy.deepcopy(self._store(session, call.account))

    def _line_item(self, raw: Any, index: int) -> dict[str, Any]:
        where = f"line_items[{index}]"
        if not isinstance(raw, dict):
            raise StripeError(400, f"Invalid object: {where}", param=where)
        if "price" in raw:
            raise missing("price", raw["price"], f"{where}[price]")
        price_data = raw.get("price_data")
        if not isinstance(price_data, dict):
            raise StripeError(
                400, f"Missing required param: {where}[price_data].", code="parameter_missing"
            )
        unit_amount = to_int(price_data, "unit_amount", path=f"{where}[price_data][unit_amount]")
        quantity = to_int(raw, "quantity", path=f"{where}[quantity]")
        currency = price_data.get("currency")
        if unit_amount is None or quantity is None or not currency:
            raise StripeError(
                400,
                f"{where} needs price_data[currency], price_data[unit_amount] and quantity.",
                code="parameter_missing",
                param=where,
            )
        product = price_data.get("product_data") or {}
        return {
            "id": new_id("li_"),
            "object": "item",
            "amount_discount": 0,
            "amount_subtotal": unit_amount * quantity,
            "amount_tax": 0,
            "amount_total": unit_amount * quantity,
            "currency": currency.lower(),
            "description": product.get("name"),
            "quantity": quantity,
            "price": {
                "id": new_id("price_"),
                "object": "price",
                "currency": currency.lower(),
                "unit_amount": unit_amount,
                "product": new_id("prod_", 14),
                "type": "one_time",
            },
        }

    def _list_sessions(self, call: ApiCall, _args: dict[str, str]) -> dict[str, Any]:
        params = call.params
        limit = to_int(params, "limit") or 10
        sessions = [
            obj
            for oid, obj in self.objects.items()
            if obj["object"] == "checkout.session" and self.owners[oid] == call.account
        ]
        for name in ("payment_intent", "status", "customer", "client_reference_id"):
            if params.get(name):
                sessions = [s for s in sessions if s.get(name) == params[name]]
        sessions.sort(key=lambda s: s["created"], reverse=True)
        return _list_object("/v1/checkout/sessions", sessions, limit)

    def _list_line_items(self, call: ApiCall, args: dict[str, str]) -> dict[str, Any]:
        session = self._owned("checkout.session", args["id"], call.account, "session")
        items = self._line_items[session["id"]]
        url = f"/v1/checkout/sessions/{session['id']}/line_items"
        return _list_object(url, items, to_int(call.params, "limit") or 10)

    def _expire_session_api(self, call: ApiCall, args: dict[str, str]) -> dict[str, Any]:
        session = self._owned("checkout.session", args["id"], call.account, "session")
        self._require_open(session)
        self._mark_expired(session)
        return copy.deepcopy(session)

    def _require_open(self, session: dict[str, Any]) -> None:
        self._expire_if_past(session)
        if session["status"] != "open":
            raise StripeError(
                400,
                'Only Checkout Sessions with a status in ["open"] can be expired or paid. '
                f'This Checkout Session has a status of "{session["status"]}".',
            )

    def _expire_if_past(self, session: dict[str, Any]) -> None:
        if session["status"] == "open" and session["expires_at"] <= _now():
            self._mark_expired(session)

    @staticmethod
    def _mark_expired(session: dict[str, Any]) -> None:
        session.update(status="expired", url=None)

    # -- payments (what the hosted page and helpers do) -----------------------------------

    def _create_payment(
        self, session: dict[str, Any], *, outcome: str, email: str, method: str = "card"
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Make the PaymentIntent and Charge for ``session``.

        ``outcome`` is "succeeded", "processing" (async methods) or "failed"; ``method`` is
        "card", "apple_pay", "google_pay" (cards through a wallet) or "acss_debit".
        """
        account = self.owners[session["id"]]
        intent_data = self._intent_data[session["id"]]
        intent_id = new_id("pi_")
        charge = self._new_charge(session, intent_id, intent_data, email, outcome)
        charge["payment_method_details"] = self._method_details(session, method)
        intent = copy.deepcopy(self.templates["payment_intent"])
        intent.update(
            id=intent_id,
            amount=session["amount_total"],
            amount_received=session["amount_total"] if outcome == "succeeded" else 0,
            currency=session["currency"],
            created=_now(),
            canceled_at=None,
            client_secret=f"{intent_id}_secret_{new_id('', 25)}",
            customer=session.get("customer"),
            description=intent_data.get("description"),
            application_fee_amount=to_int(intent_data, "application_fee_amount"),
            on_behalf_of=intent_data.get("on_behalf_of"),
            transfer_data=intent_data.get("transfer_data"),
            metadata=dict(intent_data.get("metadata") or {}),
            latest_charge=charge["id"],
            payment_method=charge["payment_method"],
            payment_method_types=list(session["payment_method_types"]),
            payment_method_options=copy.deepcopy(session["payment_method_options"]),
            receipt_email=intent_data.get("receipt_email"),
            last_payment_error=None,
            next_action=None,
            processing=None,
            managed_payments=None,
            payment_method_configuration_details=None,
            status={"succeeded": "succeeded", "processing": "processing"}.get(
                outcome, "requires_payment_method"
            ),
        )
        if outcome == "failed":
            intent["last_payment_error"] = _card_declined(charge)
        intent["setup_future_usage"] = intent_data.get("setup_future_usage")
        self._store(intent, account)
        self._store(charge, account)
        saving = intent_data.get("setup_future_usage") == "off_session" and session.get("customer")
        self._store_payment_method(
            charge, customer=session.get("customer") if saving else None, account=account
        )
        return intent, charge

    def _store_payment_method(
        self, charge: dict[str, Any], *, customer: str | None, account: str | None
    ) -> dict[str, Any]:
        """The PaymentMethod a charge used (Stripe's shape), attached to ``customer`` when the
        payment saved it for later (``setup_future_usage``)."""
        details = charge.get("payment_method_details") or {}
        pm = copy.deepcopy(self.templates["payment_method"])
        pm.update(
            id=charge["payment_method"],
            created=_now(),
            customer=customer,
            metadata={},
            type=details.get("type") or "card",
            allow_redisplay="always" if customer else "unspecified",
        )
        pm["billing_details"]["email"] = charge.get("receipt_email")
        if pm["type"] == "card":
            pm["card"]["last4"] = "4242"
            pm["card"]["wallet"] = None
        return self._store(pm, account)

    # -- Customers, saved payment methods, off-session PaymentIntents -------------------------

    def _create_customer(self, call: ApiCall, _args: dict[str, str]) -> dict[str, Any]:
        params = call.params
        _reject_unknown(params, CUSTOMER_CREATE_PARAMS)
        customer = copy.deepcopy(self.templates["customer"])
        customer.update(
            id=new_id("cus_", 14),
            created=_now(),
            email=params.get("email"),
            name=params.get("name"),
            description=params.get("description"),
            metadata=_metadata(params),
            livemode=False,
        )
        return copy.deepcopy(self._store(customer, call.account))

    def _detach_payment_method(self, call: ApiCall, args: dict[str, str]) -> dict[str, Any]:
        pm = self._owned("payment_method", args["id"], call.account, "payment_method")
        if not pm.get("customer"):
            raise StripeError(
                400,
                "The payment method you provided is not attached to a customer so detachment "
                "is impossible.",
            )
        pm["customer"] = None
        return copy.deepcopy(pm)

    def _create_intent(self, call: ApiCall, _args: dict[str, str]) -> dict[str, Any]:
        """A PaymentIntent confirmed at once off-session on a saved card (what autopay does)."""
        params = call.params
        _reject_unknown(params, INTENT_CREATE_PARAMS)
        amount = to_int(params, "amount")
        currency = str(_required(params, "currency")).lower()
        if amount is None:
            raise StripeError(400, "Missing required param: amount.", param="amount")
        _check_amount(amount, currency)
        customer_id = params.get("customer")
        if customer_id:
            self._owned("customer", customer_id, call.account, "customer")
        pm_id = params.get("payment_method")
        if not pm_id:
            raise StripeError(
                400, "Missing required param: payment_method.", param="payment_method"
            )
        pm = self._owned("payment_method", pm_id, call.account, "payment_method")
        if params.get("off_session") in ("true", True) and pm.get("customer") != customer_id:
            raise StripeError(
                400,
                "The provided PaymentMethod was previously used with a PaymentIntent without "
                "Customer attachment, shared with a connected account without Customer "
                "attachment, or was detached from a Customer. It may not be used again.",
                param="payment_method",
            )
        outcome = self.off_session_outcomes.get(pm_id, "succeeded")
        pseudo = {
            "id": "",
            "amount_total": amount,
            "currency": currency,
            "customer": customer_id,
            "payment_method_types": ["card"],
        }
        intent_data = {
            "metadata": _metadata(params),
            "description": params.get("description"),
        }
        intent_id = new_id("pi_")
        charge = self._new_charge(
            pseudo, intent_id, intent_data, pm["billing_details"].get("email") or "", "succeeded"
        )
        charge["payment_method"] = pm_id
        charge["payment_method_details"] = self._method_details(pseudo, "card")
        intent = copy.deepcopy(self.templates["payment_intent"])
        intent.update(
            id=intent_id,
            amount=amount,
            amount_received=amount,
            currency=currency,
            created=_now(),
            canceled_at=None,
            client_secret=f"{intent_id}_secret_{new_id('', 25)}",
            customer=customer_id,
            description=params.get("description"),
            metadata=_metadata(params),
            latest_charge=charge["id"],
            payment_method=pm_id,
            payment_method_types=["card"],
            last_payment_error=None,
            next_action=None,
            processing=None,
            status="succeeded",
            confirmation_method="automatic",
            setup_future_usage=None,
        )
        if outcome != "succeeded":
            charge.update(
                status="failed",
                paid=False,
                captured=False,
                amount_captured=0,
                balance_transaction=None,
                failure_code=outcome,
                failure_message="Your card was declined."
                if outcome == "card_declined"
                else "This payment requires authentication.",
            )
            error = {
                **_card_declined(charge),
                "code": outcome,
                "message": charge["failure_message"],
            }
            intent.update(
                status="requires_payment_method", amount_received=0, last_payment_error=error
            )
            self._store(charge, call.account)
            self._store(intent, call.account)
            exc = StripeError(402, charge["failure_message"], type_="card_error", code=outcome)
            exc.payload["payment_intent"] = copy.deepcopy(intent)
            raise exc
        self._store(charge, call.account)
        return copy.deepcopy(self._store(intent, call.account))

    def _new_charge(
        self,
        session: dict[str, Any],
        intent_id: str,
        intent_data: dict[str, Any],
        email: str,
        outcome: str,
    ) -> dict[str, Any]:
        charge_id = new_id("ch_")
        charge = copy.deepcopy(self.templates["charge"])
        paid = outcome == "succeeded"
        charge.update(
            id=charge_id,
            amount=session["amount_total"],
            amount_captured=session["amount_total"] if paid else 0,
            amount_refunded=0,
            captured=paid,
            paid=paid,
            refunded=False,
            status={"succeeded": "succeeded", "processing": "pending"}.get(outcome, "failed"),
            failure_code="card_declined" if outcome == "failed" else None,
            failure_message="Your card was declined." if outcome == "failed" else None,
            currency=session["currency"],
            created=_now(),
            customer=session.get("customer"),
            description=intent_data.get("description"),
            metadata=dict(intent_data.get("metadata") or {}),
            payment_intent=intent_id,
            payment_method=new_id("pm_"),
            balance_transaction=new_id("txn_") if paid else None,
            receipt_email=email,
            receipt_url=f"{self.url}/receipts/{charge_id}",
            refunds={
                "object": "list",
                "data": [],
                "has_more": False,
                "total_count": 0,
                "url": f"/v1/charges/{charge_id}/refunds",
            },
            source=None,
            transfer_data=None,
        )
        charge["billing_details"]["email"] = email
        return charge

    def _method_details(self, session: dict[str, Any], method: str) -> dict[str, Any]:
        """The charge's ``payment_method_details`` for ``method``, in Stripe's shapes."""
        if method == "acss_debit":
            if "acss_debit" not in session["payment_method_types"]:
                raise ValueError("this session does not offer acss_debit")
            return {
                "type": "acss_debit",
                "acss_debit": {
                    "bank_name": "STRIPE TEST BANK",
                    "fingerprint": new_id("", 16),
                    "institution_number": "000",
                    "last4": "6789",
                    "mandate": new_id("mandate_"),
                    "transit_number": "11000",
                },
            }
        if "card" not in session["payment_method_types"]:
            raise ValueError("this session does not offer card")
        details = copy.deepcopy(self.templates["charge"]["payment_method_details"])
        details["type"] = "card"
        wallet = {"apple_pay": "apple_pay", "google_pay": "google_pay"}.get(method)
        details["card"]["wallet"] = (
            {"dynamic_last4": "4242", "type": wallet, wallet: {}} if wallet else None
        )
        details["card"]["last4"] = "4242"
        return details

    def _finish_session(
        self, session_id: str, *, outcome: str, email: str | None, method: str = "card"
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Complete an open session under the lock; returns it and its completed event."""
        session = self.objects.get(session_id)
        if session is None or session["object"] != "checkout.session":
            raise KeyError(f"no checkout session {session_id!r}")
        self._require_open(session)
        email = email or session["customer_email"] or "customer@example.com"
        intent, _charge = self._create_payment(session, outcome=outcome, email=email, method=method)
        details = copy.deepcopy(self.templates["checkout.session"]["customer_details"])
        details.update(email=email, name="Test Customer")
        session.update(
            payment_intent=intent["id"],
            customer_details=details,
            status="complete",
            url=None,
            payment_status="paid" if outcome == "succeeded" else "unpaid",
        )
        return session, self.build_event("checkout.session.completed", session)

    # -- helpers for tests ----------------------------------------------------------------

    def add_account(self, account_id: str | None = None, **fields: Any) -> dict[str, Any]:
        """Register a connected account (ready to take payments unless ``fields`` say not)."""
        account = copy.deepcopy(self.templates["account"])
        account_id = account_id or new_id("acct_", 16)
        account.update(
            id=account_id,
            type="standard",
            country="CA",
            default_currency="cad",
            charges_enabled=True,
            payouts_enabled=True,
            details_submitted=True,
            created=_now(),
            email=f"{account_id}@example.com",
        )
        account["requirements"].update(currently_due=[], eventually_due=[], disabled_reason=None)
        account["external_accounts"]["url"] = f"/v1/accounts/{account_id}/external_accounts"
        account.update(fields)
        with self.lock:
            return copy.deepcopy(self._store(account, None))

    def _retrieve_account(self, call: ApiCall, args: dict[str, str]) -> dict[str, Any]:
        account = self.objects.get(args["id"])
        if account is None or account["object"] != "account":
            raise missing("account", args["id"], "account")
        return copy.deepcopy(account)

    # -- Connect onboarding (Account Links) ------------------------------------------------

    def _create_account(self, call: ApiCall, _args: dict[str, str]) -> dict[str, Any]:
        """``POST /v1/accounts``: a new connected account that cannot take charges until it is
        onboarded through an account link (``complete_onboarding`` or the hosted page)."""
        params = call.params
        _reject_unknown(params, ACCOUNT_CREATE_PARAMS)
        if call.account is not None:
            raise StripeError(400, "Connected accounts cannot create accounts.")
        account = self.add_account(
            charges_enabled=False,
            payouts_enabled=False,
            details_submitted=False,
            type=params.get("type") or "standard",
            country=params.get("country") or "CA",
        )
        if params.get("email"):
            account["email"] = params["email"]
            self.objects[account["id"]]["email"] = params["email"]
        return account

    def _create_account_link(self, call: ApiCall, _args: dict[str, str]) -> dict[str, Any]:
        params = call.params
        _reject_unknown(params, ACCOUNT_LINK_PARAMS)
        account_id = _required(params, "account")
        link_type = _required(params, "type")
        if link_type not in ("account_onboarding", "account_update"):
            raise StripeError(400, f"Invalid type: {link_type}", param="type")
        account = self.objects.get(account_id)
        if account is None or account["object"] != "account":
            raise missing("account", account_id, "account")
        link_id = new_id("", 20)
        self._account_links[link_id] = {
            "account": account_id,
            "refresh_url": params.get("refresh_url"),
            "return_url": _required(params, "return_url"),
            "expires_at": _now() + 300,
        }
        return {
            "object": "account_link",
            "created": _now(),
            "expires_at": _now() + 300,
            "url": f"{self.url}/connect/onboard/{link_id}",
        }

    def complete_onboarding(self, account_id: str, send_webhook: bool = True) -> dict[str, Any]:
        """Finish onboarding as the hosted page would: the account can take charges."""
        with self.lock:
            account = self.objects[account_id]
            account.update(charges_enabled=True, payouts_enabled=True, details_submitted=True)
            event = self.build_event("account.updated", account, account=account_id)
            account = copy.deepcopy(account)
        if send_webhook and self.webhook_url:
            self.send_event(event)
        return account

    def _onboarding_page(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        with self.lock:
            link = self._account_links.get(match["id"])
        if link is None or link["expires_at"] <= _now():
            return html_response("<h1>This link has expired</h1>", 410)
        return html_response(
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<title>Fake Stripe onboarding</title></head><body><h1>Fake Stripe onboarding</h1>"
            f"<form method='post' action='/connect/onboard/{html.escape(match['id'])}'>"
            "<button type='submit' id='complete'>Complete onboarding</button></form>"
            "</body></html>"
        )

    def _onboarding_submit(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        with self.lock:
            link = self._account_links.pop(match["id"], None)
        if link is None or link["expires_at"] <= _now():
            return html_response("<h1>This link has expired</h1>", 410)
        self.complete_onboarding(link["account"])
        return redirect(link["return_url"])

    def get(self, object_id: str) -> dict[str, Any]:
        """A copy of any object the fake holds (session, intent, charge, refund, account)."""
        with self.lock:
            return copy.deepcopy(self.objects[object_id])

    def account_of(self, object_id: str) -> str | None:
        """The connected account an object was created on (its Stripe-Account header)."""
        with self.lock:
            return self.owners[object_id]

    def line_items(self, session_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(self._line_items[session_id])

    def complete_session(
        self,
        session_id: str,
        send_webhook: bool = True,
        *,
        async_payment: bool = False,
        customer_email: str | None = None,
        method: str | None = None,
    ) -> dict[str, Any]:
        """Pay an open session as the hosted page would; returns the session.

        With ``async_payment`` (bank debits etc.) the session completes unpaid and the
        intent stays "processing" until ``settle_async_payment``. ``method``: "card"
        (default), "apple_pay", "google_pay", or "acss_debit" (the default with
        ``async_payment`` when the session offers it).
        """
        outcome = "processing" if async_payment else "succeeded"
        with self.lock:
            if method is None:
                offered = self.objects[session_id].get("payment_method_types") or []
                method = "acss_debit" if async_payment and "acss_debit" in offered else "card"
            session, event = self._finish_session(
                session_id, outcome=outcome, email=customer_email, method=method
            )
            session = copy.deepcopy(session)
        if send_webhook and self.webhook_url:
            self.send_event(event)
        return copy.deepcopy(session)

    def settle_async_payment(
        self, session_id: str, succeeded: bool = True, send_webhook: bool = True
    ) -> dict[str, Any]:
        """Finish a payment started with ``complete_session(..., async_payment=True)``."""
        with self.lock:
            session = self.objects[session_id]
            intent = self.objects[session["payment_intent"]]
            charge = self.objects[intent["latest_charge"]]
            if intent["status"] != "processing":
                raise ValueError(f"payment for {session_id} is {intent['status']}, not processing")
            if succeeded:
                intent.update(status="succeeded", amount_received=intent["amount"])
                charge.update(
                    status="succeeded", paid=True, captured=True, amount_captured=charge["amount"]
                )
                charge["balance_transaction"] = new_id("txn_")
                session["payment_status"] = "paid"
            else:
                charge.update(status="failed", failure_code="insufficient_funds")
                charge["failure_message"] = "The customer's account has insufficient funds."
                intent.update(
                    status="requires_payment_method", last_payment_error=_async_failed(charge)
                )
            kind = "succeeded" if succeeded else "failed"
            event = self.build_event(f"checkout.session.async_payment_{kind}", session)
        if send_webhook and self.webhook_url:
            self.send_event(event)
        return copy.deepcopy(session)

    def fail_session_payment(self, session_id: str, send_webhook: bool = True) -> dict[str, Any]:
        """A declined card on the hosted page: the session stays open; returns the intent."""
        with self.lock:
            session = self.objects[session_id]
            self._require_open(session)
            email = session["customer_email"] or "customer@example.com"
            intent, _charge = self._create_payment(session, outcome="failed", email=email)
            session["payment_intent"] = intent["id"]
            event = self.build_event("payment_intent.payment_failed", intent)
        if send_webhook and self.webhook_url:
            self.send_event(event)
        return copy.deepcopy(intent)

    def expire_session(self, session_id: str, send_webhook: bool = True) -> dict[str, Any]:
        with self.lock:
            session = self.objects[session_id]
            self._require_open(session)
            self._mark_expired(session)
            event = self.build_event("checkout.session.expired", session)
        if send_webhook and self.webhook_url:
            self.send_event(event)
        return copy.deepcopy(session)

    def build_event(
        self,
        event_type: str,
        obj: dict[str, Any],
        account: str | None = None,
        previous_attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An ``event`` object carrying a snapshot of ``obj``.

        ``account`` defaults to the connected account ``obj`` was created on, as Stripe
        sets it for Connect webhooks.
        """
        expected = EVENT_OBJECT_TYPES.get(event_type)
        if expected and obj.get("object") != expected:
            raise ValueError(f"{event_type} carries a {expected}, not a {obj.get('object')}")
        event = copy.deepcopy(self.templates["event"])
        event.update(
            id=new_id("evt_"),
            api_version=API_VERSION,
            created=_now(),
            data={"object": copy.deepcopy(obj)},
            livemode=False,
            pending_webhooks=1,
            request={"id": None, "idempotency_key": None},
            type=event_type,
        )
        if previous_attributes:
            event["data"]["previous_attributes"] = previous_attributes
        with self.lock:
            account = account or self.owners.get(obj.get("id", ""))
            if account:
                event["account"] = account
            self.events.append(event)
        return copy.deepcopy(event)

    @staticmethod
    def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
        """The ``Stripe-Signature`` header Stripe would send for ``payload``."""
        return stripe.WebhookSignature.generate_signature_header(
            payload.decode("utf-8"), secret, timestamp
        )

    def send_event(
        self,
        event: dict[str, Any],
        *,
        url: str | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> Delivery:
        """POST ``event`` to the webhook URL, signed like Stripe. Safe to call concurrently."""
        target = url or self.webhook_url
        if not target:
            raise RuntimeError("set fake_stripe.webhook_url (or pass url=) before sending events")
        if self.hold_webhooks and url is None and secret is None and timestamp is None:
            with self.lock:
                self.held.append(copy.deepcopy(event))
            return Delivery(target, b"", {}, None, error="held (hold_webhooks)")
        payload = json.dumps(event, indent=2).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": self.sign(payload, secret or self.webhook_secret, timestamp),
        }
        delivery = post(target, payload, headers)
        with self.lock:
            self.deliveries.append(delivery)
        return delivery

    def release_held(self, *, drop: Callable[[int], bool] | None = None) -> list[Delivery]:
        """Stop holding webhooks and deliver the held events in order, freshly signed, except
        those whose index ``drop(i)`` is true (lost for good). Returns the deliveries."""
        with self.lock:
            self.hold_webhooks = False
            held, self.held = self.held, []
        return [self.send_event(e) for i, e in enumerate(held) if drop is None or not drop(i)]

    # -- Refunds --------------------------------------------------------------------------

    def _create_refund(self, call: ApiCall, _args: dict[str, str]) -> dict[str, Any]:
        params = call.params
        _reject_unknown(params, REFUND_CREATE_PARAMS)
        charge = self._refundable_charge(params, call.account)
        remaining = charge["amount"] - charge["amount_refunded"]
        if remaining <= 0:
            raise StripeError(
                400,
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = to_int(params, "amount")
        amount = remaining if amount is None else amount
        if amount <= 0:
            raise StripeError(400, "Refund amount must be positive.", param="amount")
        if amount > remaining:
            raise StripeError(
                400,
                f"Refund amount ({_money(amount)}) is greater than unrefunded amount on "
                f"charge ({_money(remaining)})",
                code="amount_too_large",
                param="amount",
            )
        reason = params.get("reason")
        if reason is not None and reason not in REFUND_REASONS:
            raise StripeError(
                400, "Invalid reason: must be one of " + ", ".join(REFUND_REASONS), param="reason"
            )
        refund = copy.deepcopy(self.templates["refund"])
        refund.update(
            id=new_id("re_"),
            amount=amount,
            charge=charge["id"],
            payment_intent=charge["payment_intent"],
            currency=charge["currency"],
            created=_now(),
            metadata=_metadata(params),
            reason=reason,
            status="succeeded",
            balance_transaction=new_id("txn_"),
        )
        self._store(refund, call.account)
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        charge["refunds"]["data"].insert(0, copy.deepcopy(refund))
        charge["refunds"]["total_count"] = len(charge["refunds"]["data"])
        return copy.deepcopy(refund)

    def _refundable_charge(self, params: dict[str, Any], account: str | None) -> dict[str, Any]:
        charge: dict[str, Any] | None
        if params.get("charge"):
            charge = self._owned("charge", params["charge"], account, "charge")
        elif params.get("payment_intent"):
            intent = self._owned(
                "payment_intent", params["payment_intent"], account, "payment_intent"
            )
            charge = self.objects[intent["latest_charge"]] if intent["latest_charge"] else None
        else:
            raise StripeError(
                400,
                "One of the following params should be provided for this request: "
                "payment_intent or charge.",
            )
        if charge is None or charge["status"] != "succeeded":
            raise StripeError(
                400,
                "This charge has not succeeded, so it cannot be refunded.",
                code="charge_not_refundable",
            )
        return charge

    # -- hosted pages (what a browser sees) -----------------------------------------------

    def _hosted_page(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        with self.lock:
            session = self.objects.get(match["id"])
            if session is None or session["object"] != "checkout.session":
                return html_response("<h1>Checkout session not found</h1>", 404)
            self._expire_if_past(session)
            if session["status"] == "complete":
                return redirect(_success_url(session))
            if session["status"] != "open":
                return html_response("<h1>This Checkout Session has expired</h1>", 410)
            return html_response(_checkout_html(session, self._line_items[session["id"]]))

    def _hosted_submit(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        with self.lock:
            session = self.objects.get(match["id"])
            if session is None or session["object"] != "checkout.session":
                return html_response("<h1>Checkout session not found</h1>", 404)
            self._expire_if_past(session)
            if session["status"] == "complete":  # a double submit: already paid
                return redirect(_success_url(session))
            if session["status"] != "open":
                return html_response(f"<h1>This Checkout Session is {session['status']}</h1>", 410)
            if request.form.get("action") == "cancel":
                if not session["cancel_url"]:
                    return html_response("<h1>Payment cancelled</h1>")
                return redirect(session["cancel_url"])
            action = request.form.get("action") or "pay"
            bank = action == "acss_debit" and "acss_debit" in session["payment_method_types"]
            wallet = action if action in ("apple_pay", "google_pay") else "card"
            session, event = self._finish_session(
                session["id"],
                outcome="processing" if bank else "succeeded",
                email=request.form.get("email"),
                method="acss_debit" if bank else wallet,
            )
            success_url = _success_url(session)
        # Deliver before redirecting, so the app has the webhook when the browser lands on
        # success_url; outside the lock, because the app's handler may call back into us.
        if self.webhook_url:
            self.send_event(event)
        return redirect(success_url)

    def _receipt_page(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        with self.lock:
            charge = self.objects.get(match["id"])
            if charge is None or charge["object"] != "charge":
                return html_response("<h1>Receipt not found</h1>", 404)
            amount = _money(charge["amount"], charge["currency"])
        return html_response(f"<h1>Receipt</h1><p id='amount'>{html.escape(amount)}</p>")


# -- small pure helpers -----------------------------------------------------------------------


PAYMENT_METHOD_TYPES = frozenset(
    ["acss_debit", "affirm", "afterpay_clearpay", "card", "klarna", "link", "us_bank_account"]
)
PAYMENT_SCHEDULES = ("combined", "interval", "sporadic")
TRANSACTION_TYPES = ("business", "personal")


def _payment_method_settings(
    params: dict[str, Any], currency: str
) -> tuple[list[str], dict[str, Any]]:
    """``payment_method_types`` and ``payment_method_options`` as Stripe checks them for a
    payment-mode session (only the ``acss_debit`` options are modelled)."""
    types = params.get("payment_method_types") or ["card"]
    if not isinstance(types, list) or not types:
        raise StripeError(400, "Invalid array", param="payment_method_types")
    for kind in types:
        if kind not in PAYMENT_METHOD_TYPES:
            raise StripeError(
                400,
                f"Invalid payment_method_types[]: must be one of {sorted(PAYMENT_METHOD_TYPES)}",
                param="payment_method_types",
            )
    options = params.get("payment_method_options") or {}
    if not isinstance(options, dict):
        raise StripeError(400, "Invalid object", param="payment_method_options")
    acss = options.get("acss_debit")
    if "acss_debit" not in types:
        if acss is not None:
            raise StripeError(
                400,
                "payment_method_options[acss_debit] was given but acss_debit is not in "
                "payment_method_types.",
                param="payment_method_options[acss_debit]",
            )
        return types, {}
    if currency not in ("cad", "usd"):
        raise StripeError(
            400,
            f"The currency provided ({currency}) is invalid for acss_debit.",
            param="payment_method_types",
        )
    if not isinstance(acss, dict):
        acss = {}
    where = "payment_method_options[acss_debit]"
    if "currency" in acss:
        raise StripeError(
            400,
            f"{where}[currency] is only accepted for Checkout Sessions in setup mode.",
            param=f"{where}[currency]",
        )
    mandate = acss.get("mandate_options") if isinstance(acss.get("mandate_options"), dict) else {}
    schedule = mandate.get("payment_schedule")
    if schedule not in PAYMENT_SCHEDULES:
        raise StripeError(
            400,
            f"Missing or invalid {where}[mandate_options][payment_schedule].",
            param=f"{where}[mandate_options][payment_schedule]",
        )
    if mandate.get("transaction_type") not in TRANSACTION_TYPES:
        raise StripeError(
            400,
            f"Missing or invalid {where}[mandate_options][transaction_type].",
            param=f"{where}[mandate_options][transaction_type]",
        )
    if schedule in ("interval", "combined") and not mandate.get("interval_description"):
        raise StripeError(
            400,
            f"{where}[mandate_options][interval_description] is required when "
            "payment_schedule is interval or combined.",
            param=f"{where}[mandate_options][interval_description]",
        )
    verification = acss.get("verification_method", "automatic")
    if verification not in ("automatic", "instant", "microdeposits"):
        raise StripeError(
            400, f"Invalid {where}[verification_method].", param=f"{where}[verification_method]"
        )
    return types, {
        "acss_debit": {
            "currency": currency,
            "mandate_options": {
                "custom_mandate_url": mandate.get("custom_mandate_url"),
                "default_for": [],
                "interval_description": mandate.get("interval_description"),
                "payment_schedule": schedule,
                "transaction_type": mandate["transaction_type"],
            },
            "verification_method": verification,
        }
    }


def _check_amount(amount: int, currency: str) -> None:
    """Stripe refuses a session whose total is above its 8-digit maximum (amount_too_large)."""
    if amount > MAX_AMOUNT:
        raise StripeError(
            400,
            f"Amount must be no more than {_money(MAX_AMOUNT, currency)}",
            code="amount_too_large",
            param="line_items[0][price_data][unit_amount]",
        )


def _session_expires_at(params: dict[str, Any], created: int) -> int:
    """``expires_at`` must fall 30 minutes to 24 hours after the session's creation."""
    expires_at = to_int(params, "expires_at")
    if expires_at is None:
        return created + SESSION_LIFETIME_SECONDS
    if expires_at - created < SESSION_MIN_LIFETIME_SECONDS:
        raise StripeError(
            400,
            "The `expires_at` timestamp must be at least 30 minutes from Checkout Session "
            "creation.",
            param="expires_at",
        )
    if expires_at - created > SESSION_MAX_LIFETIME_SECONDS:
        raise StripeError(
            400,
            "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
            param="expires_at",
        )
    return expires_at


def _required(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if value in (None, "", [], {}):
        raise StripeError(
            400, f"Missing required param: {name}.", code="parameter_missing", param=name
        )
    return value


def _reject_unknown(params: dict[str, Any], allowed: frozenset[str]) -> None:
    for name in params:
        if name not in allowed:
            raise StripeError(
                400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name
            )


def _metadata(params: dict[str, Any]) -> dict[str, str]:
    metadata = params.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise StripeError(400, "Invalid object", param="metadata")
    # Stripe deletes a metadata key when it is sent empty.
    return {k: v for k, v in metadata.items() if v != ""}


def _list_object(url: str, items: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    return {
        "object": "list",
        "data": copy.deepcopy(items[:limit]),
        "has_more": len(items) > limit,
        "url": url,
    }


def _card_declined(charge: dict[str, Any]) -> dict[str, Any]:
    return {
        "charge": charge["id"],
        "code": "card_declined",
        "decline_code": "generic_decline",
        "doc_url": "https://stripe.com/docs/error-codes/card-declined",
        "message": "Your card was declined.",
        "payment_method": {"id": charge["payment_method"], "object": "payment_method"},
        "type": "card_error",
    }


def _async_failed(charge: dict[str, Any]) -> dict[str, Any]:
    """The intent's ``last_payment_error`` when a bank debit bounces (a card keeps its decline)."""
    if (charge.get("payment_method_details") or {}).get("type") != "acss_debit":
        return _card_declined(charge)
    return {
        "charge": charge["id"],
        "code": "insufficient_funds",
        "doc_url": "https://stripe.com/docs/error-codes/insufficient-funds",
        "message": "The customer's account has insufficient funds to cover this payment.",
        "payment_method": {"id": charge["payment_method"], "object": "payment_method"},
        "type": "invalid_request_error",
    }


def _money(amount: int, currency: str | None = None) -> str:
    text = f"${amount / 100:,.2f}"
    return f"{text} {currency.upper()}" if currency else text


def _success_url(session: dict[str, Any]) -> str:
    url = session["success_url"] or "about:blank"
    return url.replace("{CHECKOUT_SESSION_ID}", session["id"])


def _checkout_html(session: dict[str, Any], items: list[dict[str, Any]]) -> str:
    esc = html.escape
    rows = "".join(
        f"<li>{esc(item['description'] or 'Item')} x {item['quantity']}: "
        f"{esc(_money(item['amount_total'], item['currency']))}</li>"
        for item in items
    )
    email = session["customer_email"] or ""
    bank = ""
    if "acss_debit" in session["payment_method_types"]:
        mandate = session["payment_method_options"]["acss_debit"]["mandate_options"]
        bank = (
            '\n  <p id="pad-mandate">Pre-authorized debit agreement: '
            f"{esc(mandate['payment_schedule'])}, {esc(mandate['transaction_type'])}</p>"
            '\n  <button type="submit" id="pay-bank" name="action" value="acss_debit">'
            "Pay by bank account (pre-authorized debit)</button>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fake Stripe Checkout</title></head>
<body>
<h1>Fake Stripe Checkout</h1>
<ul id="line-items">{rows}</ul>
<p>Total: <strong id="amount">{esc(_money(session["amount_total"], session["currency"]))}</strong></p>
<form method="post" action="/pay/{esc(session["id"])}">
  <label>Email <input name="email" type="email" value="{esc(email)}"></label>
  <button type="submit" id="pay" name="action" value="pay">Pay</button>{bank}
  <button type="submit" id="cancel" name="action" value="cancel">Cancel</button>
</form>
</body></html>
"""
