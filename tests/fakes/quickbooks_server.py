"""A fake of Intuit's OAuth 2.0 server and the QuickBooks Online Accounting API v3.

Pointing the real SDKs at it (no monkeypatching; both are public knobs):

* ``intuitlib.client.AuthClient(client_id, client_secret, redirect_uri, environment=X)``:
  ``environment`` other than "sandbox"/"production" is taken as the URL of an OpenID
  discovery document, so pass ``f"{fake.url}/.well-known/openid-configuration"``. Every
  OAuth endpoint (authorize, token, revoke, userinfo, jwks) then comes from that document.
* ``quickbooks.QuickBooks`` builds every URL from its ``api_url`` property, which reads
  ``self.api_url_v3`` (or ``sandbox_api_url_v3`` when the AuthClient environment is
  "sandbox"). Set both on the instance to ``f"{fake.url}/v3"``.
* The fake speaks plain http, and requests-oauthlib (used by python-quickbooks) refuses
  to send a token over http unless ``OAUTHLIB_INSECURE_TRANSPORT=1`` — the fixtures set it.

Behaviour worth knowing:

* Refresh tokens rotate on every refresh; a used one is ``invalid_grant`` (400).
* Access tokens belong to one realm; expired/unknown ones get a 401, as from Intuit.
* ``requestid`` makes a write idempotent: a repeat returns the first response verbatim.
* Companies are Canadian by default (``country = "CA"``): every sales line needs a
  ``TaxCodeRef`` (seeded codes: ``TAX_CODE_*``), and tax is added to ``TotalAmt``.
* Invoice/Payment totals, balances, customer balances and ``SyncToken`` are maintained;
  a Payment without lines is an unapplied credit (``UnappliedAmt``; the customer's balance
  drops by the whole payment, as in QBO), applied later by an update that sends every line.
* RefundReceipt: sales lines and tax as an invoice's, ``DepositToAccountRef`` required and
  a Bank or Other Current Asset account, ``Balance`` 0; it does not touch A/R.
  stale ``SyncToken`` is error 5010, duplicate names 6240, ``Amount != UnitPrice * Qty``
  6070, unknown references 2500, missing required fields 2020.
* Money is held as ``Decimal`` and written as JSON numbers.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from quickbooks import QuickBooks

from .base import FakeServer, RecordedRequest, Response, json_response, redirect

DISCOVERY_PATH = "/.well-known/openid-configuration"
CLIENT_ID = "fake-quickbooks-client-id"
CLIENT_SECRET = "fake-quickbooks-client-secret"
ACCESS_TOKEN_SECONDS = 3600
REFRESH_TOKEN_SECONDS = 8_726_400  # 101 days, as Intuit reports
MONEY = Decimal("0.01")
_INTUIT_TZ = timezone(timedelta(hours=-7))  # QBO stamps times in US Pacific

# Ids of the chart of accounts, items and Canadian tax codes every fake company starts with.
ACCOUNT_SERVICES_INCOME = "1"
ACCOUNT_RECEIVABLE = "2"
ACCOUNT_UNDEPOSITED_FUNDS = "3"
ACCOUNT_CHEQUING = "4"
ITEM_SERVICES = "1"
TAX_CODE_EXEMPT = "2"
TAX_CODE_ZERO_RATED = "3"
TAX_CODE_GST = "4"
TAX_CODE_HST_ON = "5"

ENTITY_PATHS = {
    "account": "Account",
    "companyinfo": "CompanyInfo",
    "customer": "Customer",
    "invoice": "Invoice",
    "item": "Item",
    "payment": "Payment",
    "refundreceipt": "RefundReceipt",
    "taxcode": "TaxCode",
    "taxrate": "TaxRate",
}
WRITABLE = frozenset({"Customer", "Invoice", "Item", "Payment", "RefundReceipt"})
NAME_LISTS = frozenset({"Account", "Customer", "Item", "TaxCode", "TaxRate"})  # have Active
SYSTEM_FIELDS = frozenset({"Id", "SyncToken", "MetaData", "domain", "sparse"})
NUMERIC_FIELDS = frozenset(
    {
        "Amount",
        "Balance",
        "BalanceWithJobs",
        "Deposit",
        "DiscountPercent",
        "ExchangeRate",
        "HomeBalance",
        "HomeTotalAmt",
        "NetAmountTaxable",
        "PurchaseCost",
        "Qty",
        "QtyOnHand",
        "RateValue",
        "TaxInclusiveAmt",
        "TaxPercent",
        "TotalAmt",
        "TotalTax",
        "UnappliedAmt",
        "UnitPrice",
    }
)


class QuickBooksFault(Exception):
    """Rendered as QBO's ``{"Fault": {"Error": [...]}}``; python-quickbooks maps ``code``."""

    def __init__(
        self,
        code: int,
        message: str,
        detail: str,
        *,
        status: int = 400,
        fault_type: str = "ValidationFault",
    ) -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.code, self.message, self.detail = code, message, detail
        self.status, self.fault_type = status, fault_type

    def payload(self) -> dict[str, Any]:
        error = {"Message": self.message, "Detail": self.detail, "code": str(self.code)}
        return {"Fault": {"Error": [error], "type": self.fault_type}, "time": _timestamp()}


def required(name: str) -> QuickBooksFault:
    return QuickBooksFault(
        2020,
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {name} is missing in the request",
    )


def invalid_reference(entity: str, ref_id: object) -> QuickBooksFault:
    return QuickBooksFault(
        2500,
        "Invalid Reference Id",
        f"Invalid Reference Id : {entity} element id {ref_id} not found",
    )


def business_error(detail: str) -> QuickBooksFault:
    return QuickBooksFault(
        6000,
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
    )


def not_found(entity: str, entity_id: object) -> QuickBooksFault:
    return QuickBooksFault(
        610,
        "Object Not Found",
        f"Object Not Found : Something you're trying to use has been made inactive. "
        f"Check the fields with accounts, customers, items, vendors or employees. ({entity} {entity_id})",
    )


def money(value: Decimal) -> Decimal:
    return value.quantize(MONEY, rounding=ROUND_HALF_UP)


def _timestamp(moment: datetime | None = None) -> str:
    moment = (moment or datetime.now(UTC)).astimezone(_INTUIT_TZ)
    return moment.isoformat(timespec="milliseconds")


def _today() -> str:
    return datetime.now(_INTUIT_TZ).date().isoformat()


def new_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def point_quickbooks_at(client: QuickBooks, api_url_v3: str) -> QuickBooks:
    """Send a python-quickbooks client's API calls to ``api_url_v3`` (e.g. the fake's).

    ``QuickBooks.api_url`` returns ``api_url_v3`` or, for an AuthClient whose environment
    is "sandbox", ``sandbox_api_url_v3``; instance attributes override both class defaults.
    """
    client.api_url_v3 = api_url_v3
    client.sandbox_api_url_v3 = api_url_v3
    return client


# -- JSON in and out --------------------------------------------------------------------------


def normalize(value: Any, key: str = "") -> Any:
    """Clean an incoming entity: drop null/"" fields, make money fields ``Decimal``.

    python-quickbooks sends every attribute, with "" for unset strings and Decimals as
    strings ("12.50"); QBO itself ignores the empties and reads the strings as numbers.
    """
    if isinstance(value, dict):
        return {k: normalize(v, k) for k, v in value.items() if v is not None and v != ""}
    if isinstance(value, list):
        return [normalize(v, key) for v in value]
    if key in NUMERIC_FIELDS and not isinstance(value, bool):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            raise QuickBooksFault(
                2010, "Request has invalid or unsupported property", f"{key}={value}"
            ) from None
    return value


def jsonable(value: Any) -> Any:
    """Decimals become JSON numbers (floats print the shortest exact decimal for money)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def _intuit_json(payload: dict[str, Any], status: int = 200) -> Response:
    return json_response(jsonable(payload), status, {"intuit_tid": secrets.token_hex(16)})


# -- companies --------------------------------------------------------------------------------


@dataclass
class Company:
    """One QuickBooks company (realm): its entities by type and id."""

    realm_id: str
    country: str
    name: str
    entities: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    next_ids: dict[str, int] = field(default_factory=dict)
    next_doc_number: int = 1001

    def all(self, entity: str) -> list[dict[str, Any]]:
        return list(self.entities.get(entity, {}).values())

    def get(self, entity: str, entity_id: object) -> dict[str, Any] | None:
        return self.entities.get(entity, {}).get(str(entity_id))

    def insert(self, entity: str, obj: dict[str, Any]) -> dict[str, Any]:
        number = self.next_ids.get(entity, 1)
        self.next_ids[entity] = number + 1
        now = _timestamp()
        obj = {
            **obj,
            "Id": str(number),
            "SyncToken": "0",
            "domain": "QBO",
            "sparse": False,
            "MetaData": {"CreateTime": now, "LastUpdatedTime": now},
        }
        self.entities.setdefault(entity, {})[obj["Id"]] = obj
        return obj

    def replace(self, entity: str, current: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
        obj = {
            **obj,
            "Id": current["Id"],
            "SyncToken": str(int(current["SyncToken"]) + 1),
            "domain": "QBO",
            "sparse": False,
            "MetaData": {**current["MetaData"], "LastUpdatedTime": _timestamp()},
        }
        self.entities[entity][obj["Id"]] = obj
        return obj

    def touch(self, obj: dict[str, Any]) -> None:
        """Bump an entity changed as a side effect (e.g. an invoice a payment applied to)."""
        obj["SyncToken"] = str(int(obj["SyncToken"]) + 1)
        obj["MetaData"]["LastUpdatedTime"] = _timestamp()

    def take_doc_number(self) -> str:
        self.next_doc_number += 1
        return str(self.next_doc_number - 1)


def _seed(company: Company) -> None:
    accounts = [
        ("Services", "Income", "ServiceFeeIncome", "Revenue"),
        ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable", "Asset"),
        ("Undeposited Funds", "Other Current Asset", "UndepositedFunds", "Asset"),
        ("Chequing", "Bank", "Checking", "Asset"),
    ]
    for name, kind, subtype, classification in accounts:
        company.insert(
            "Account",
            {
                "Name": name,
                "FullyQualifiedName": name,
                "AccountType": kind,
                "AccountSubType": subtype,
                "Classification": classification,
                "Active": True,
                "CurrentBalance": Decimal(0),
            },
        )
    company.insert(
        "Item",
        {
            "Name": "Services",
            "FullyQualifiedName": "Services",
            "Type": "Service",
            "Active": True,
            "Taxable": True,
            "UnitPrice": Decimal(0),
            "IncomeAccountRef": {"value": ACCOUNT_SERVICES_INCOME, "name": "Services"},
        },
    )
    if company.country == "CA":
        _seed_canadian_tax(company)
    company.insert(
        "CompanyInfo",
        {
            "CompanyName": company.name,
            "LegalName": company.name,
            "Country": company.country,
            "CompanyAddr": {"City": "Toronto", "CountrySubDivisionCode": "ON", "Country": "CA"},
            "Email": {"Address": "owner@example.com"},
        },
    )


def _seed_canadian_tax(company: Company) -> None:
    # TaxRate ids 1..3, TaxCode ids 1..5 (1 is QBO's internal "out of scope" code).
    rates = [("HST ON", Decimal(13)), ("GST", Decimal(5)), ("Zero-rated", Decimal(0))]
    rate_names: dict[str, str] = {}
    for name, value in rates:
        rate = company.insert("TaxRate", {"Name": name, "RateValue": value, "Active": True})
        rate_names[rate["Id"]] = name
    codes = [
        ("Out of Scope", []),
        ("Exempt", []),
        ("Zero-rated", ["3"]),
        ("GST", ["2"]),
        ("HST ON", ["1"]),
    ]
    for name, rate_ids in codes:
        details = [
            {
                "TaxRateRef": {"value": rid, "name": rate_names[rid]},
                "TaxTypeApplicable": "TaxOnAmount",
                "TaxOrder": 0,
            }
            for rid in rate_ids
        ]
        company.insert(
            "TaxCode",
            {
                "Name": name,
                "Description": name,
                "Active": True,
                "Taxable": bool(rate_ids),
                "TaxGroup": bool(rate_ids),
                "SalesTaxRateList": {"TaxRateDetail": details},
                "PurchaseTaxRateList": {"TaxRateDetail": []},
            },
        )


# -- OAuth ------------------------------------------------------------------------------------


@dataclass
class Grant:
    realm_id: str
    expires_at: float


@dataclass(frozen=True)
class _AuthCode:
    realm_id: str
    redirect_uri: str | None


class OAuthError(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status, self.error = status, error

    def response(self) -> Response:
        return json_response({"error": self.error}, self.status)


EntityHandler = Callable[["Company", dict[str, Any], "dict[str, Any] | None"], dict[str, Any]]


# -- the server -------------------------------------------------------------------------------


class QuickBooksFake(FakeServer):
    """Fake Intuit OAuth + QuickBooks Online. See the module docstring for the rules."""

    client_id: str
    client_secret: str
    country: str
    consent_realm: str | None
    deny_consent: bool
    companies: dict[str, Company]
    access_tokens: dict[str, Grant]
    refresh_tokens: dict[str, Grant]

    def reset_state(self) -> None:
        self.client_id = CLIENT_ID
        self.client_secret = CLIENT_SECRET
        self.country = "CA"  # for companies created from now on
        self.consent_realm = None  # the company the authorize page "connects"
        self.deny_consent = False
        self.companies = {}
        self.access_tokens = {}
        self.refresh_tokens = {}
        self._auth_codes: dict[str, _AuthCode] = {}
        self._replies: dict[tuple[str, str], Response] = {}
        self._realm_counter = 0

    def setup_routes(self) -> None:
        self.add_route("GET", DISCOVERY_PATH, self._discovery)
        self.add_route("GET", r"/connect/oauth2", self._authorize)
        self.add_route("POST", r"/oauth2/v1/tokens/bearer", self._oauth(self._token))
        self.add_route("POST", r"/v2/oauth2/tokens/revoke", self._oauth(self._revoke))
        self.add_route("GET", r"/v1/openid_connect/userinfo", self._userinfo)
        self.add_route("GET", r"/op/v1/jwks", lambda r, m: json_response({"keys": []}))
        company = r"/v3/company/(?P<realm>[^/]+)"
        self.add_route("GET", rf"{company}/query", self._api(self._query))
        self.add_route("POST", rf"{company}/query", self._api(self._query))
        self.add_route("GET", rf"{company}/(?P<entity>\w+)/(?P<id>[^/]+)", self._api(self._read))
        self.add_route("POST", rf"{company}/(?P<entity>\w+)", self._api(self._write))

    @property
    def discovery_url(self) -> str:
        """Pass as ``AuthClient(environment=...)``."""
        return self.url + DISCOVERY_PATH

    @property
    def api_url_v3(self) -> str:
        """Set as ``QuickBooks.api_url_v3`` (and ``sandbox_api_url_v3``)."""
        return self.url + "/v3"

    # -- helpers for tests ----------------------------------------------------------------

    def create_company(
        self, realm_id: str | None = None, *, name: str = "Fake Contracting Ltd"
    ) -> str:
        with self.lock:
            self._realm_counter += 1
            realm_id = realm_id or f"9341452{self._realm_counter:09d}"
            company = Company(realm_id, self.country, name)
            _seed(company)
            self.companies[realm_id] = company
            return realm_id

    def issue_authorization_code(self, realm_id: str, redirect_uri: str | None = None) -> str:
        with self.lock:
            code = new_token("AB11")
            self._auth_codes[code] = _AuthCode(realm_id, redirect_uri)
            return code

    def issue_tokens(self, realm_id: str) -> dict[str, Any]:
        """A fresh token pair for ``realm_id``, as the token endpoint returns it."""
        with self.lock:
            if realm_id not in self.companies:
                raise KeyError(f"no company {realm_id!r}; call create_company first")
            access, refresh = new_token("eyJ"), new_token("AB11")
            now = time.time()
            self.access_tokens[access] = Grant(realm_id, now + ACCESS_TOKEN_SECONDS)
            self.refresh_tokens[refresh] = Grant(realm_id, now + REFRESH_TOKEN_SECONDS)
        return {
            "token_type": "bearer",
            "access_token": access,
            "expires_in": ACCESS_TOKEN_SECONDS,
            "refresh_token": refresh,
            "x_refresh_token_expires_in": REFRESH_TOKEN_SECONDS,
        }

    def expire_access_tokens(self) -> None:
        """Make every issued access token expired, to exercise the app's refresh path."""
        with self.lock:
            for grant in self.access_tokens.values():
                grant.expires_at = 0

    def entities(self, realm_id: str, entity: str) -> list[dict[str, Any]]:
        with self.lock:
            return jsonable(copy.deepcopy(self.companies[realm_id].all(entity)))

    def entity(self, realm_id: str, entity: str, entity_id: str) -> dict[str, Any]:
        with self.lock:
            found = self.companies[realm_id].get(entity, entity_id)
            if found is None:
                raise KeyError(f"no {entity} {entity_id} in {realm_id}")
            return jsonable(copy.deepcopy(found))

    # -- OAuth endpoints ------------------------------------------------------------------

    def _discovery(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        base = self.url
        return json_response(
            {
                "issuer": f"{base}/op/v1",
                "authorization_endpoint": f"{base}/connect/oauth2",
                "token_endpoint": f"{base}/oauth2/v1/tokens/bearer",
                "userinfo_endpoint": f"{base}/v1/openid_connect/userinfo",
                "revocation_endpoint": f"{base}/v2/oauth2/tokens/revoke",
                "jwks_uri": f"{base}/op/v1/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile", "address", "phone"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "client_secret_basic",
                ],
                "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
            }
        )

    def _authorize(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        """The consent screen, already clicked: redirect back with a code (or a refusal)."""
        query = request.query
        redirect_uri = query.get("redirect_uri")
        if query.get("client_id") != self.client_id or not redirect_uri:
            return Response(
                400, b"invalid client_id or redirect_uri", {"Content-Type": "text/plain"}
            )
        if self.deny_consent:
            answer = {"error": "access_denied", "state": query.get("state", "")}
        else:
            realm = self.consent_realm or self.create_company()
            code = self.issue_authorization_code(realm, redirect_uri)
            answer = {"code": code, "state": query.get("state", ""), "realmId": realm}
        separator = "&" if "?" in redirect_uri else "?"
        return redirect(f"{redirect_uri}{separator}{urlencode(answer)}", 302)

    def _oauth(
        self, handler: Callable[[RecordedRequest], dict[str, Any] | None]
    ) -> Callable[[RecordedRequest, re.Match[str]], Response]:
        def route(request: RecordedRequest, match: re.Match[str]) -> Response:
            try:
                self._check_client(request)
                with self.lock:
                    payload = handler(request)
            except OAuthError as exc:
                return exc.response()
            if payload is None:
                return Response(200)
            return json_response(payload)

        return route

    def _check_client(self, request: RecordedRequest) -> None:
        scheme, _, encoded = (request.header("Authorization") or "").partition(" ")
        client_id, secret = request.form.get("client_id"), request.form.get("client_secret")
        if scheme.lower() == "basic":
            try:
                client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                client_id = secret = None
        if (client_id, secret) != (self.client_id, self.client_secret):
            raise OAuthError(401, "invalid_client")

    def _token(self, request: RecordedRequest) -> dict[str, Any]:
        form = request.form
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            code = self._auth_codes.pop(form.get("code", ""), None)  # single use
            if code is None or (
                code.redirect_uri and code.redirect_uri != form.get("redirect_uri")
            ):
                raise OAuthError(400, "invalid_grant")
            return self.issue_tokens(code.realm_id)
        if grant_type == "refresh_token":
            # Rotation: the presented token dies now, whether or not the caller keeps the new one.
            grant = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if grant is None or grant.expires_at < time.time():
                raise OAuthError(400, "invalid_grant")
            return self.issue_tokens(grant.realm_id)
        raise OAuthError(400, "unsupported_grant_type")

    def _revoke(self, request: RecordedRequest) -> None:
        token = (request.json or {}).get("token", "")
        grant = self.refresh_tokens.get(token) or self.access_tokens.get(token)
        if grant is None:
            raise OAuthError(400, "invalid_request")
        # Revoking disconnects the app from the company: every token for it dies.
        for tokens in (self.refresh_tokens, self.access_tokens):
            for key in [k for k, g in tokens.items() if g.realm_id == grant.realm_id]:
                del tokens[key]
        return None

    def _userinfo(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        with self.lock:
            grant = self.access_tokens.get(token)
        if scheme.lower() != "bearer" or grant is None or grant.expires_at < time.time():
            return Response(401, b"", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return json_response(
            {
                "sub": f"fake-user-{grant.realm_id}",
                "email": "owner@example.com",
                "emailVerified": True,
                "givenName": "Pat",
                "familyName": "Contractor",
            }
        )

    # -- accounting API plumbing ----------------------------------------------------------

    def _api(
        self, handler: Callable[[Company, RecordedRequest, re.Match[str]], dict[str, Any]]
    ) -> Callable[[RecordedRequest, re.Match[str]], Response]:
        def route(request: RecordedRequest, match: re.Match[str]) -> Response:
            with self.lock:
                denied = self._authorize_api(request, match["realm"])
                if denied is not None:
                    return denied
                request_id = request.query.get("requestid")
                key = (match["realm"], request_id or "")
                if request.method == "POST" and request_id and key in self._replies:
                    return self._replies[key]
                response = self._run_api(handler, request, match)
                if request.method == "POST" and request_id:
                    self._replies[key] = response
                return response

        return route

    def _run_api(
        self,
        handler: Callable[[Company, RecordedRequest, re.Match[str]], dict[str, Any]],
        request: RecordedRequest,
        match: re.Match[str],
    ) -> Response:
        try:
            payload = handler(self.companies[match["realm"]], request, match)
        except QuickBooksFault as fault:
            return _intuit_json(fault.payload(), fault.status)
        return _intuit_json({**payload, "time": _timestamp()})

    def _authorize_api(self, request: RecordedRequest, realm: str) -> Response | None:
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        grant = self.access_tokens.get(token) if scheme.lower() == "bearer" else None
        if grant is None or grant.expires_at < time.time():
            return _intuit_json(_authentication_failure(), 401)
        if grant.realm_id != realm:
            fault = QuickBooksFault(
                3100,
                "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
                f"The token is not authorized for company {realm}",
                status=403,
                fault_type="AUTHORIZATION",
            )
            return _intuit_json(fault.payload(), 403)
        return None

    def _entity_name(self, path_name: str) -> str:
        name = ENTITY_PATHS.get(path_name.lower())
        if name is None:
            raise QuickBooksFault(
                4000, "Unsupported entity", f"The fake QuickBooks has no {path_name} entity"
            )
        return name

    # -- reads and writes -----------------------------------------------------------------

    def _read(
        self, company: Company, request: RecordedRequest, match: re.Match[str]
    ) -> dict[str, Any]:
        name = self._entity_name(match["entity"])
        entity_id = match["id"]
        if name == "CompanyInfo" and entity_id == company.realm_id:
            entity_id = "1"  # CompanyInfo is read by realm id but carries Id "1"
        found = company.get(name, entity_id)
        if found is None:
            raise not_found(name, entity_id)
        return {name: copy.deepcopy(found)}

    def _write(
        self, company: Company, request: RecordedRequest, match: re.Match[str]
    ) -> dict[str, Any]:
        name = self._entity_name(match["entity"])
        if name not in WRITABLE:
            raise QuickBooksFault(
                4000, "Unsupported operation", f"The fake QuickBooks cannot write {name}"
            )
        try:
            body = normalize(json.loads(request.body or b"{}", parse_float=Decimal))
        except ValueError:
            raise QuickBooksFault(
                2010, "Request has invalid or unsupported property", "Invalid JSON body"
            ) from None
        if not isinstance(body, dict):
            raise QuickBooksFault(2010, "Request has invalid or unsupported property", "body")
        operation = request.query.get("operation")
        if operation == "delete":
            return {name: self._delete(company, name, body)}
        if operation == "void" or request.query.get("include") == "void":
            return {name: self._void(company, name, body)}
        if body.get("Id"):
            return {name: self._update(company, name, body)}
        return {name: self._create(company, name, body)}

    def _create(self, company: Company, name: str, body: dict[str, Any]) -> dict[str, Any]:
        fields = {k: v for k, v in body.items() if k not in SYSTEM_FIELDS}
        prepared = self._prepare(name)(company, fields, None)
        saved = company.insert(name, prepared)
        self._after_save(company, name, saved, None)
        return copy.deepcopy(saved)

    def _update(self, company: Company, name: str, body: dict[str, Any]) -> dict[str, Any]:
        current = self._current(company, name, body)
        fields = {k: v for k, v in body.items() if k not in SYSTEM_FIELDS}
        if body.get("sparse") in (True, "true"):
            fields = {**{k: v for k, v in current.items() if k not in SYSTEM_FIELDS}, **fields}
        prepared = self._prepare(name)(company, fields, current)
        before = copy.deepcopy(current)
        saved = company.replace(name, current, prepared)
        self._after_save(company, name, saved, before)
        return copy.deepcopy(saved)

    def _current(self, company: Company, name: str, body: dict[str, Any]) -> dict[str, Any]:
        current = company.get(name, body.get("Id"))
        if current is None:
            raise not_found(name, body.get("Id"))
        if str(body.get("SyncToken")) != current["SyncToken"]:
            raise QuickBooksFault(
                5010,
                "Stale Object Error",
                "Stale Object Error : You and another user were working on the same thing. "
                "The other user finished before you did, so your work was not saved.",
            )
        return current

    def _prepare(self, name: str) -> EntityHandler:
        return {
            "Customer": self._prepare_customer,
            "Item": self._prepare_item,
            "Invoice": self._prepare_invoice,
            "Payment": self._prepare_payment,
            "RefundReceipt": self._prepare_refund_receipt,
        }[name]

    def _after_save(
        self,
        company: Company,
        name: str,
        saved: dict[str, Any] | None,
        before: dict[str, Any] | None,
    ) -> None:
        """Keep balances consistent: undo what ``before`` did, then apply ``saved``."""
        if name == "Invoice":
            if before:
                self._adjust_customer(company, before["CustomerRef"], -before["Balance"])
            if saved:
                self._adjust_customer(company, saved["CustomerRef"], saved["Balance"])
        elif name == "Payment":
            if before:
                self._apply_payment(company, before, sign=-1)
            if saved:
                self._apply_payment(company, saved, sign=1)

    def _delete(self, company: Company, name: str, body: dict[str, Any]) -> dict[str, Any]:
        if name not in ("Invoice", "Payment", "RefundReceipt"):
            raise QuickBooksFault(
                6000, "Unsupported operation", f"{name} cannot be deleted; make it inactive"
            )
        current = self._current(company, name, body)
        if name == "Invoice":
            self._refuse_if_paid(current)
        self._after_save(company, name, None, current)
        del company.entities[name][current["Id"]]
        return {"status": "Deleted", "domain": "QBO", "Id": current["Id"]}

    def _void(self, company: Company, name: str, body: dict[str, Any]) -> dict[str, Any]:
        if name not in ("Invoice", "Payment"):
            raise QuickBooksFault(6000, "Unsupported operation", f"{name} cannot be voided")
        current = self._current(company, name, body)
        if name == "Invoice":
            self._refuse_if_paid(current)
        before = copy.deepcopy(current)
        voided = {k: v for k, v in current.items() if k not in SYSTEM_FIELDS}
        voided.update(TotalAmt=Decimal(0), Balance=Decimal(0), PrivateNote="Voided")
        if name == "Payment":
            voided.update(Line=[], UnappliedAmt=Decimal(0))
        else:
            voided["Line"] = [{**line, "Amount": Decimal(0)} for line in voided["Line"]]
            voided["TxnTaxDetail"] = {"TotalTax": Decimal(0), "TaxLine": []}
        saved = company.replace(name, current, voided)
        self._after_save(company, name, saved, before)
        return copy.deepcopy(saved)

    @staticmethod
    def _refuse_if_paid(invoice: dict[str, Any]) -> None:
        if any(link.get("TxnType") == "Payment" for link in invoice.get("LinkedTxn", [])):
            raise business_error(
                "This invoice has payments applied; delete or void the payments first."
            )

    # -- entity rules ---------------------------------------------------------------------

    def _reference(
        self, company: Company, entity: str, ref: Any, field_name: str
    ) -> dict[str, Any]:
        if not isinstance(ref, dict) or not ref.get("value"):
            raise required(field_name)
        found = company.get(entity, ref["value"])
        if found is None:
            raise invalid_reference(entity, ref["value"])
        return found

    @staticmethod
    def _unique(
        company: Company, entity: str, key: str, value: str, existing: dict[str, Any] | None
    ) -> None:
        for other in company.all(entity):
            same = str(other.get(key, "")).casefold() == value.casefold()
            if same and (existing is None or other["Id"] != existing["Id"]):
                raise QuickBooksFault(
                    6240,
                    "Duplicate Name Exists Error",
                    f"The name supplied already exists. : Id={other['Id']}",
                )

    def _prepare_customer(
        self, company: Company, obj: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        names = (obj.get("GivenName"), obj.get("MiddleName"), obj.get("FamilyName"))
        display = (
            obj.get("DisplayName") or " ".join(n for n in names if n) or obj.get("CompanyName")
        )
        if not display:
            raise required("DisplayName")
        self._unique(company, "Customer", "DisplayName", display, existing)
        balance = existing["Balance"] if existing else Decimal(0)  # system-maintained
        return {
            "Active": True,
            "PreferredDeliveryMethod": "Print",
            "Taxable": company.country != "CA",
            "CurrencyRef": _currency(company),
            **obj,
            "DisplayName": display,
            "FullyQualifiedName": display,
            "PrintOnCheckName": obj.get("PrintOnCheckName") or display,
            "Balance": balance,
            "BalanceWithJobs": balance,
        }

    def _prepare_item(
        self, company: Company, obj: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        name = obj.get("Name")
        if not name:
            raise required("Name")
        self._unique(company, "Item", "Name", name, existing)
        item_type = obj.get("Type") or "Service"
        if item_type in ("Service", "NonInventory"):
            account = self._reference(
                company, "Account", obj.get("IncomeAccountRef"), "IncomeAccountRef"
            )
            obj["IncomeAccountRef"] = {"value": account["Id"], "name": account["Name"]}
        return {
            "Active": True,
            "UnitPrice": Decimal(0),
            **obj,
            "Type": item_type,
            "FullyQualifiedName": name,
        }

    def _prepare_invoice(
        self, company: Company, obj: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        customer = self._reference(company, "Customer", obj.get("CustomerRef"), "CustomerRef")
        raw_lines = [
            line for line in obj.get("Line") or [] if line.get("DetailType") != "SubTotalLineDetail"
        ]
        if not raw_lines:
            raise required("Line")
        tax_mode = obj.get("GlobalTaxCalculation") or (
            "TaxExcluded" if company.country == "CA" else "NotApplicable"
        )
        lines, subtotal, net_by_code = self._invoice_lines(company, raw_lines)
        tax_detail = self._tax_detail(company, net_by_code, tax_mode)
        total = subtotal if tax_mode == "TaxInclusive" else subtotal + tax_detail["TotalTax"]
        paid = existing["TotalAmt"] - existing["Balance"] if existing else Decimal(0)
        if total < paid:
            raise business_error("The invoice total is less than the payments applied to it.")
        lines.append(
            {"Amount": subtotal, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
        )
        txn_date = obj.get("TxnDate") or (existing or {}).get("TxnDate") or _today()
        return {
            "EmailStatus": "NotSet",
            "PrintStatus": "NotSet",
            "CurrencyRef": _currency(company),
            **obj,
            "CustomerRef": {"value": customer["Id"], "name": customer["DisplayName"]},
            "DocNumber": obj.get("DocNumber")
            or (existing or {}).get("DocNumber")
            or company.take_doc_number(),
            "TxnDate": txn_date,
            "DueDate": obj.get("DueDate") or txn_date,
            "GlobalTaxCalculation": tax_mode,
            "Line": lines,
            "TxnTaxDetail": tax_detail,
            "TotalAmt": total,
            "Balance": total - paid,
            "LinkedTxn": (existing or {}).get("LinkedTxn", []),
        }

    def _invoice_lines(
        self, company: Company, raw_lines: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], Decimal, dict[str, Decimal]]:
        lines: list[dict[str, Any]] = []
        subtotal = Decimal(0)
        net_by_code: dict[str, Decimal] = {}
        for number, raw in enumerate(raw_lines, start=1):
            line = {**raw, "Id": str(number), "LineNum": number}
            detail_type = line.get("DetailType")
            if detail_type == "SalesItemLineDetail":
                amount, code = self._sales_line(company, line)
                subtotal += amount
                if code is not None:
                    net_by_code[code] = net_by_code.get(code, Decimal(0)) + amount
            elif detail_type != "DescriptionOnly":
                raise QuickBooksFault(
                    2010,
                    "Request has invalid or unsupported property",
                    f"The fake QuickBooks does not support {detail_type} invoice lines",
                )
            lines.append(line)
        return lines, subtotal, net_by_code

    def _sales_line(self, company: Company, line: dict[str, Any]) -> tuple[Decimal, str | None]:
        detail = dict(line.get("SalesItemLineDetail") or {})
        qty, price = detail.get("Qty"), detail.get("UnitPrice")
        amount = line.get("Amount")
        if amount is None:
            if not (qty and price):
                raise required("Line.Amount")
            amount = qty * price
        # Zero Qty/UnitPrice are python-quickbooks' defaults for "not given", so skip those.
        if qty and price and money(qty * price) != money(amount):
            raise QuickBooksFault(
                6070,
                "Amount is not equal to UnitPrice * Qty",
                f"Amount is not equal to UnitPrice * Qty. Supplied value:{amount}",
            )
        item_ref = detail.get("ItemRef") or {"value": ITEM_SERVICES}
        item = self._reference(company, "Item", item_ref, "ItemRef")
        detail["ItemRef"] = {"value": item["Id"], "name": item["Name"]}
        code = self._line_tax_code(company, detail)
        line["Amount"] = money(amount)
        line["SalesItemLineDetail"] = detail
        return line["Amount"], code

    def _line_tax_code(self, company: Company, detail: dict[str, Any]) -> str | None:
        ref = detail.get("TaxCodeRef")
        if company.country != "CA":
            return None
        if not ref:
            raise business_error(
                "Make sure all your transactions have a GST/HST rate before you save."
            )
        code = self._reference(company, "TaxCode", ref, "TaxCodeRef")
        detail["TaxCodeRef"] = {"value": code["Id"]}
        return code["Id"]

    @staticmethod
    def _tax_detail(
        company: Company, net_by_code: dict[str, Decimal], tax_mode: str
    ) -> dict[str, Any]:
        tax_lines: list[dict[str, Any]] = []
        total_tax = Decimal(0)
        for code_id, amount in net_by_code.items():
            code = company.get("TaxCode", code_id) or {}
            for rate_detail in code.get("SalesTaxRateList", {}).get("TaxRateDetail", []):
                rate = company.get("TaxRate", rate_detail["TaxRateRef"]["value"]) or {}
                percent = rate.get("RateValue", Decimal(0))
                if tax_mode == "NotApplicable":
                    continue
                if tax_mode == "TaxInclusive":
                    net = money(amount * 100 / (100 + percent))
                    tax = amount - net
                else:
                    net, tax = amount, money(amount * percent / 100)
                total_tax += tax
                tax_lines.append(
                    {
                        "Amount": tax,
                        "DetailType": "TaxLineDetail",
                        "TaxLineDetail": {
                            "TaxRateRef": {"value": rate["Id"]},
                            "PercentBased": True,
                            "TaxPercent": percent,
                            "NetAmountTaxable": net,
                        },
                    }
                )
        return {"TotalTax": total_tax, "TaxLine": tax_lines}

    def _prepare_payment(
        self, company: Company, obj: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        customer = self._reference(company, "Customer", obj.get("CustomerRef"), "CustomerRef")
        total = obj.get("TotalAmt")
        if total is None:
            raise required("TotalAmt")
        applied = Decimal(0)
        for line in obj.get("Line") or []:
            amount = line.get("Amount")
            if amount is None:
                raise required("Line.Amount")
            for link in line.get("LinkedTxn") or []:
                self._check_application(company, customer, link, amount, existing)
            applied += amount
        if applied > total:
            raise business_error("The amount applied to transactions exceeds the payment amount.")
        return {
            "CurrencyRef": _currency(company),
            "DepositToAccountRef": {"value": ACCOUNT_UNDEPOSITED_FUNDS},
            "ProcessPayment": False,
            "Line": [],
            **obj,
            "CustomerRef": {"value": customer["Id"], "name": customer["DisplayName"]},
            "TxnDate": obj.get("TxnDate") or _today(),
            "TotalAmt": money(total),
            "UnappliedAmt": money(total - applied),
        }

    def _prepare_refund_receipt(
        self, company: Company, obj: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Intuit: "RefundReceipt represents a refund to the customer for a product or service
        that was given." Lines and tax like a sales receipt; the money leaves
        ``DepositToAccountRef`` (Bank or Other Current Asset, required)."""
        account = self._reference(
            company, "Account", obj.get("DepositToAccountRef"), "DepositToAccountRef"
        )
        if account.get("AccountType") not in ("Bank", "Other Current Asset"):
            raise business_error("The refund must come from a Bank or Other Current Asset account.")
        customer = None
        if obj.get("CustomerRef"):
            customer = self._reference(company, "Customer", obj["CustomerRef"], "CustomerRef")
        raw_lines = [
            line for line in obj.get("Line") or [] if line.get("DetailType") != "SubTotalLineDetail"
        ]
        if not raw_lines:
            raise required("Line")
        tax_mode = obj.get("GlobalTaxCalculation") or (
            "TaxExcluded" if company.country == "CA" else "NotApplicable"
        )
        lines, subtotal, net_by_code = self._invoice_lines(company, raw_lines)
        tax_detail = self._tax_detail(company, net_by_code, tax_mode)
        total = subtotal if tax_mode == "TaxInclusive" else subtotal + tax_detail["TotalTax"]
        lines.append(
            {"Amount": subtotal, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
        )
        prepared = {
            "PrintStatus": "NotSet",
            "CurrencyRef": _currency(company),
            **obj,
            "DepositToAccountRef": {"value": account["Id"], "name": account["Name"]},
            "DocNumber": obj.get("DocNumber")
            or (existing or {}).get("DocNumber")
            or company.take_doc_number(),
            "TxnDate": obj.get("TxnDate") or (existing or {}).get("TxnDate") or _today(),
            "GlobalTaxCalculation": tax_mode,
            "Line": lines,
            "TxnTaxDetail": tax_detail,
            "TotalAmt": total,
            "Balance": Decimal(0),
        }
        if customer is not None:
            prepared["CustomerRef"] = {"value": customer["Id"], "name": customer["DisplayName"]}
        return prepared

    def _check_application(
        self,
        company: Company,
        customer: dict[str, Any],
        link: dict[str, Any],
        amount: Decimal,
        existing: dict[str, Any] | None,
    ) -> None:
        if link.get("TxnType") != "Invoice":
            raise QuickBooksFault(
                2010,
                "Request has invalid or unsupported property",
                "The fake QuickBooks only applies payments to invoices",
            )
        invoice = company.get("Invoice", link.get("TxnId"))
        if invoice is None:
            raise invalid_reference("Invoice", link.get("TxnId"))
        if invoice["CustomerRef"]["value"] != customer["Id"]:
            raise business_error("The invoice belongs to a different customer than the payment.")
        already = _applied_to(existing, invoice["Id"]) if existing else Decimal(0)
        if amount > invoice["Balance"] + already:
            raise business_error("The payment applied is more than the invoice's open balance.")

    def _apply_payment(self, company: Company, payment: dict[str, Any], sign: int) -> None:
        """Apply (sign=1) or undo (sign=-1) a payment's effect on invoices and the customer."""
        for line in payment.get("Line", []):
            for link in line.get("LinkedTxn", []):
                invoice = company.get("Invoice", link["TxnId"])
                if invoice is None:
                    continue
                invoice["Balance"] -= sign * line["Amount"]
                links = [
                    other
                    for other in invoice.get("LinkedTxn", [])
                    if other != {"TxnId": payment["Id"], "TxnType": "Payment"}
                ]
                if sign > 0:
                    links.append({"TxnId": payment["Id"], "TxnType": "Payment"})
                invoice["LinkedTxn"] = links
                company.touch(invoice)
        # Applied or not, the whole payment lowers what the customer owes (an unapplied payment
        # is a credit on their account).
        self._adjust_customer(company, payment["CustomerRef"], -sign * payment["TotalAmt"])

    @staticmethod
    def _adjust_customer(company: Company, ref: dict[str, Any], delta: Decimal) -> None:
        customer = company.get("Customer", ref["value"])
        if customer is not None and delta:
            customer["Balance"] += delta
            customer["BalanceWithJobs"] = customer["Balance"]
            company.touch(customer)

    # -- query ----------------------------------------------------------------------------

    def _query(
        self, company: Company, request: RecordedRequest, match: re.Match[str]
    ) -> dict[str, Any]:
        text = request.query.get("query") if request.method == "GET" else request.text
        query = parse_query(text or "")
        entity = self._entity_name(query.entity)
        rows = [row for row in company.all(entity) if query.matches(row)]
        if entity in NAME_LISTS and not query.mentions("Active"):
            rows = [row for row in rows if row.get("Active", True)]  # QBO hides inactive ones
        if query.count:
            return {"QueryResponse": {"totalCount": len(rows)}}
        rows = query.page(query.sort(rows))
        if not rows:
            return {"QueryResponse": {}}
        return {
            "QueryResponse": {
                entity: [query.project(row) for row in copy.deepcopy(rows)],
                "startPosition": query.start,
                "maxResults": len(rows),
            }
        }


def _authentication_failure() -> dict[str, Any]:
    return {
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": "Token expired or invalid",
                    "code": "3200",
                }
            ],
            "type": "AUTHENTICATION",
        },
        "time": _timestamp(),
    }


def _currency(company: Company) -> dict[str, str]:
    if company.country == "CA":
        return {"value": "CAD", "name": "Canadian Dollar"}
    return {"value": "USD", "name": "United States Dollar"}


def _applied_to(payment: dict[str, Any], invoice_id: str) -> Decimal:
    return sum(
        (
            line["Amount"]
            for line in payment.get("Line", [])
            for link in line.get("LinkedTxn", [])
            if link.get("TxnId") == invoice_id
        ),
        Decimal(0),
    )


# -- the query language (the subset of QBO SQL apps use) ---------------------------------------

_SELECT = re.compile(
    r"\s*select\s+(?P<fields>.+?)\s+from\s+(?P<entity>\w+)"
    r"(?:\s+where\s+(?P<where>.+?))?"
    r"(?:\s+order\s*by\s+(?P<order>[\w.]+)(?:\s+(?P<direction>asc|desc))?)?"
    r"(?:\s+startposition\s+(?P<start>\d+))?"
    r"(?:\s+maxresults\s+(?P<max>\d+))?\s*;?\s*",
    re.IGNORECASE | re.DOTALL,
)
_QUOTED = r"'(?:[^'\\]|\\.)*'"
_CONDITION = re.compile(
    rf"\s*(?P<field>[\w.]+)\s*(?P<op><>|!=|<=|>=|=|<|>|\bin\b|\blike\b)\s*"
    rf"(?P<value>{_QUOTED}|\((?:[^()']|{_QUOTED})*\)|[^\s()]+)\s*(?:\band\b|$)",
    re.IGNORECASE,
)


def _parse_value(token: str) -> Any:
    token = token.strip()
    if token.startswith("("):
        return [_parse_value(t) for t in re.findall(rf"{_QUOTED}|[^,\s()]+", token)]
    if token.startswith("'"):
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    if token.lower() in ("true", "false"):
        return token.lower() == "true"
    try:
        return Decimal(token)
    except InvalidOperation:
        return token


def _lookup(row: dict[str, Any], dotted: str) -> Any:
    value: Any = row
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, dict) and "value" in value:  # CustomerRef = '1' compares the id
        value = value["value"]
    return value


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual == expected
    if isinstance(expected, Decimal):
        try:
            return Decimal(str(actual)) == expected
        except InvalidOperation:
            return False
    return str(actual) == str(expected)


def _ordered(actual: Any, expected: Any) -> tuple[Any, Any]:
    try:
        return Decimal(str(actual)), Decimal(str(expected))
    except InvalidOperation:
        return str(actual), str(expected)


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if actual is None:
        return False
    if op == "in":
        return any(_equal(actual, e) for e in expected)
    if op == "like":
        pattern = re.escape(str(expected)).replace("%", ".*")
        return re.fullmatch(pattern, str(actual), re.IGNORECASE | re.DOTALL) is not None
    if op == "=":
        return _equal(actual, expected)
    if op in ("!=", "<>"):
        return not _equal(actual, expected)
    left, right = _ordered(actual, expected)
    return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op]


@dataclass(frozen=True)
class Query:
    entity: str
    fields: list[str]
    conditions: list[tuple[str, str, Any]]
    order: str | None
    descending: bool
    start: int
    max_results: int

    @property
    def count(self) -> bool:
        return [f.lower() for f in self.fields] == ["count(*)"]

    def mentions(self, field_name: str) -> bool:
        return any(name.lower() == field_name.lower() for name, _, _ in self.conditions)

    def matches(self, row: dict[str, Any]) -> bool:
        return all(_compare(_lookup(row, f), op, v) for f, op, v in self.conditions)

    def sort(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.order is None:
            return sorted(rows, key=lambda row: int(row["Id"]))
        order = self.order

        def key(row: dict[str, Any]) -> tuple[int, Decimal, str]:
            # Numbers sort numerically, then text, then missing values; never compared across.
            value = _lookup(row, order)
            if isinstance(value, Decimal | int) and not isinstance(value, bool):
                return (0, Decimal(value), "")
            return (1 if value is not None else 2, Decimal(0), str(value or ""))

        return sorted(rows, key=key, reverse=self.descending)

    def page(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return rows[self.start - 1 : self.start - 1 + self.max_results]

    def project(self, row: dict[str, Any]) -> dict[str, Any]:
        if "*" in self.fields:
            return row
        keep = {f.split(".")[0] for f in self.fields} | {"Id", "SyncToken", "domain"}
        return {**{k: v for k, v in row.items() if k in keep}, "sparse": True}


def parse_query(text: str) -> Query:
    """Parse ``SELECT ... FROM X [WHERE a = 'b' AND ...] [ORDERBY f] [STARTPOSITION n]
    [MAXRESULTS n]``; QBO SQL has no OR, joins or sub-selects."""
    match = _SELECT.fullmatch(text)
    if match is None:
        raise _query_error(text)
    conditions: list[tuple[str, str, Any]] = []
    where = match["where"] or ""
    position = 0
    while position < len(where):
        condition = _CONDITION.match(where, position)
        if condition is None or condition.end() == position:
            raise _query_error(text)
        op = condition["op"].lower()
        conditions.append((condition["field"], op, _parse_value(condition["value"])))
        position = condition.end()
    return Query(
        entity=match["entity"],
        fields=[f.strip() for f in match["fields"].split(",")],
        conditions=conditions,
        order=match["order"],
        descending=(match["direction"] or "").lower() == "desc",
        start=max(int(match["start"] or 1), 1),
        max_results=min(int(match["max"] or 100), 1000),
    )


def _query_error(text: str) -> QuickBooksFault:
    return QuickBooksFault(4000, "Error parsing query", f"QueryParserError: Invalid query {text!r}")
