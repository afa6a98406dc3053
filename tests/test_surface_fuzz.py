"""Every POST endpoint of the URL configuration, found by walking it, posted with random and
hostile input: never a 5xx, and an answer that reports an error has changed no row.

``tests/test_form_fuzz.py`` fuzzes the forms it finds on pages; an endpoint no page shows a form
for (an htmx action, a form shown only in some states, a webhook, a public page's POST) escapes
it. This walk starts from the URL patterns instead: every route but Django's admin (staff only,
Django's own code) is filled with the objects of ``tests/<app>/tenancy.py`` and a live portal
link, review request and booking page, and gets POSTs of

- the field names of the forms its own page renders (if any), plus random extra names, each
  with a hostile value (``tests.test_form_fuzz.HOSTILE``), random text or a random integer, or
  left out;
- duplicate keys (two values for one name);
- for the webhooks (Stripe, Twilio, QuickBooks): raw bodies of random bytes, hostile text and
  JSON in any shape, unsigned or with a forged signature, which must get a 4xx; and bodies
  correctly signed with the test secrets, which must still never get a 5xx.

A route added later is covered without touching this file; a route whose kwargs no tenancy
module provides fails the walk (``tests.urlwalk.url_for``).

Examples per route: ``SURFACE_FUZZ_EXAMPLES`` (default 6, the CI run, ~1 minute on PostgreSQL);
e.g. ``SURFACE_FUZZ_EXAMPLES=60`` for a long local run. The number of routes and requests is
printed (``-s``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import get_resolver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviews.services import review_link_for
from tests.factories import PaymentFactory
from tests.fakes.stripe_server import DEFAULT_WEBHOOK_SECRET
from tests.test_form_fuzz import (
    HOSTILE,
    SKIPPED_ACTIONS,
    FormParser,
    fingerprint,
    reports_an_error,
    world,  # noqa: F401 - the fixture, shared
)
from tests.urlwalk import Route, _walk, url_for

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

EXAMPLES = int(os.environ.get("SURFACE_FUZZ_EXAMPLES", "6"))
PROFILE = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=EXAMPLES <= 10,
    suppress_health_check=list(HealthCheck),
)

WEBHOOKS = {"billing_webhooks:stripe", "twilio_status", "twilio_inbound", "quickbooks_webhook"}
TWILIO_TOKEN = "twilio-test-auth-token-0123456789ab"
QUICKBOOKS_VERIFIER = "quickbooks-test-verifier-token"
# A value for kwargs no live object fills (tokens of things that do not exist): the route must
# still answer a hostile POST cleanly.
BOGUS = {"token": "x" * 43, "uidb64": "MQ", "slug": "no-such-company"}

hostile = st.sampled_from(HOSTILE) | st.text(max_size=300) | st.integers().map(str)
names = st.sampled_from(["id", "amount", "email", "name", "status", "token", "action", "_method"])


def routes() -> list[Route]:
    """Every named route but the admin's, deletes and log-outs last (they end the world or the
    session the others need)."""
    found = [
        r
        for r in _walk(get_resolver().url_patterns, "", None)
        if not r.name.startswith("admin:") and not r.route.startswith("admin/")
    ]
    last = ("logout", "delete", "remove", "revoke", "archive", "disconnect")
    return sorted(found, key=lambda r: any(word in r.name for word in last))


def form_fields(client: Client, url: str) -> list[str]:
    """The field names of the forms this URL's own page renders for itself."""
    response = client.get(url)
    if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
        return []
    parser = FormParser(url)
    parser.feed(response.content.decode(errors="replace"))
    fields: list[str] = []
    for target in parser.targets:
        if target.method == "post" and target.url.split("?")[0].endswith(url.split("?")[0]):
            fields += [n for n in target.fields if n not in fields]
    return fields


def form_bodies(fields: list[str]):
    known = st.fixed_dictionaries({}, optional={name: hostile for name in fields})
    extra = st.dictionaries(names | st.text(min_size=1, max_size=20), hostile, max_size=4)
    duplicate = st.lists(st.tuples(names, hostile), min_size=2, max_size=6)
    return st.one_of(
        st.builds(lambda a, b: {"kind": "form", "data": {**b, **a}}, known, extra),
        duplicate.map(lambda pairs: {"kind": "raw", "type": "form", "body": urlencode(pairs)}),
    )


def webhook_bodies():
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | hostile,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile, inner, max_size=4),
        max_leaves=12,
    )
    return st.one_of(
        st.binary(max_size=2000).map(lambda b: {"kind": "raw", "type": "bytes", "body": b}),
        json_values.map(lambda v: {"kind": "raw", "type": "json", "body": json.dumps(v)}),
        st.dictionaries(
            names | st.sampled_from(["MessageSid", "MessageStatus", "From", "Body"]),
            hostile,
            max_size=6,
        ).map(lambda d: {"kind": "form", "data": d}),
    ).flatmap(
        lambda body: st.fixed_dictionaries(
            {"body": st.just(body), "sign": st.booleans(), "forged": st.sampled_from(HOSTILE)}
        )
    )


CONTENT_TYPES = {
    "form": "application/x-www-form-urlencoded",
    "json": "application/json",
    "bytes": "application/octet-stream",
}


def _raw(body: dict) -> tuple[bytes, str]:
    if body["kind"] == "form":
        return urlencode(body["data"], doseq=True).encode(), CONTENT_TYPES["form"]
    raw = body["body"]
    return (raw if isinstance(raw, bytes) else raw.encode()), CONTENT_TYPES[body["type"]]


def _signature_headers(route: str, path: str, raw: bytes, body: dict, sign: bool, forged: str):
    """The provider's signature header: correct with the test secrets (``sign``), else forged."""
    if route == "billing_webhooks:stripe":
        stamp = int(time.time())
        mac = hmac.new(
            DEFAULT_WEBHOOK_SECRET.encode(), f"{stamp}.".encode() + raw, hashlib.sha256
        ).hexdigest()
        return {"Stripe-Signature": f"t={stamp},v1={mac}" if sign else f"t={stamp},v1={forged}"}
    if route == "quickbooks_webhook":
        mac = base64.b64encode(hmac.new(QUICKBOOKS_VERIFIER.encode(), raw, hashlib.sha256).digest())
        return {"intuit-signature": mac.decode() if sign else forged}
    from django.conf import settings as django_settings
    from twilio.request_validator import RequestValidator

    params = body["data"] if body["kind"] == "form" else {}
    mac = RequestValidator(TWILIO_TOKEN).compute_signature(django_settings.SITE_URL + path, params)
    return {"X-Twilio-Signature": mac if sign and body["kind"] == "form" else forged}


def _safe_header(value: str) -> str:
    # A header the WSGI layer can carry at all (latin-1, one line): the fuzz is of the app.
    return (
        value.encode("latin-1", "replace")
        .decode("latin-1")
        .replace("\r", "")
        .replace("\n", "")
        .replace("\x00", "")
    )


class Walk:
    def __init__(self) -> None:
        self.requests = 0
        self.routes = 0

    def post(self, client: Client, path: str, body: dict, headers: dict | None = None):
        headers = {"HX-Request": "true", **(headers or {})}
        if body["kind"] == "form":
            return client.post(path, body["data"], headers=headers)
        raw, content_type = _raw(body)
        return client.post(path, raw, content_type=content_type, headers=headers)

    def fuzz_route(self, client: Client, route: Route, path: str) -> None:
        self.routes += 1
        fields = form_fields(client, path)

        @PROFILE
        @given(body=form_bodies(fields))
        def check(body):
            self.requests += 1
            before = fingerprint()
            response = self.post(client, path, body)
            assert response.status_code < 500, (route.name, path, body, response.status_code)
            if reports_an_error(response):
                assert fingerprint() == before, ("an error changed data", route.name, body)

        check()

    def fuzz_webhook(self, client: Client, route: Route, path: str) -> None:
        self.routes += 1

        @PROFILE
        @given(case=webhook_bodies())
        def check(case):
            self.requests += 1
            body, sign = case["body"], case["sign"]
            raw, _type = _raw(body)
            signature = _signature_headers(
                route.name, path, raw, body, sign, _safe_header(case["forged"])
            )
            before = fingerprint()
            response = self.post(client, path, body, signature)
            assert response.status_code < 500, (route.name, case, response.status_code)
            signed = sign and not (route.name.startswith("twilio") and body["kind"] != "form")
            if not signed:
                assert 400 <= response.status_code < 500, (route.name, case, response.status_code)
            if response.status_code >= 400:
                assert fingerprint() == before, ("a refused webhook changed data", route.name)

        check()


@pytest.fixture
def surface(world, settings, owner, customer):  # noqa: F811 - the shared fixture
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN = QUICKBOOKS_VERIFIER
    settings.PORTAL_INVALID_LINK_LIMIT = 10_000
    settings.BOOKING_RATE_LIMITS = {"attempts": "10000/h", "ip": "10000/h", "company": "10000/h"}
    settings.AUTH_RATE_LIMITS = dict.fromkeys(settings.AUTH_RATE_LIMITS, "10000/h")
    objects, portal = world
    company = owner.company
    company.google_review_url = "https://g.page/r/example/review"
    company.save(update_fields=["google_review_url"])
    review = review_link_for(customer=customer).rstrip("/").rsplit("/", 1)[1]
    payment = PaymentFactory(invoice=_an_invoice(portal))
    public = {
        **BOGUS,
        "slug": company.slug,
        "payment_id": payment.public_id,
        "reviews:landing": {"token": review},
        "reviews:go": {"token": review},
        "reviews:feedback": {"token": review},
    }
    return objects, portal, public


def _an_invoice(portal: dict):
    from documents.models import Invoice

    return Invoice.objects.get(public_id=portal["invoice_id"])


def test_every_post_endpoint_survives_hostile_input(surface, owner_client):
    objects, portal, public = surface
    walk = Walk()
    anonymous = Client()
    # The customer's own link (not one document's): it opens every page of theirs.
    portal_objects = {**portal, "token": portal["tokens"][2], "payment_id": public["payment_id"]}
    started = time.monotonic()
    for route in routes():
        if route.route.startswith("app/"):
            client, values = owner_client, objects
        elif route.route.startswith("p/"):
            client, values = anonymous, portal_objects
        else:
            client, values = anonymous, public
        path = url_for(route, values, **{k: BOGUS[k] for k in route.kwargs if k not in values})
        if path.endswith(SKIPPED_ACTIONS) or route.name == "logout":
            continue
        if route.name in WEBHOOKS:
            walk.fuzz_webhook(anonymous, route, path)
        else:
            walk.fuzz_route(client, route, path)
    print(
        f"surface fuzz: {walk.routes} routes, {walk.requests} requests, "
        f"{EXAMPLES} examples each, {time.monotonic() - started:.0f} s"
    )
    assert walk.routes >= 120
    assert walk.requests >= walk.routes * min(EXAMPLES, 2)
