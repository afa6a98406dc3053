"""Every form of the dashboard and the portal, posted with random and hostile values (NUL bytes,
huge and negative numbers, NaN/Infinity, 1e309, very long text, unicode and emoji, CR/LF,
HTML/JS): never a 5xx, and an answer that reports an error has changed nothing in the database.

The forms are found, not listed: every dashboard URL pattern (``tests/urlwalk.py``, filled with
the objects of ``tests/<app>/tenancy.py``) and the portal pages of a live link are fetched, and
each ``<form>`` and ``hx-post`` element in them is read for its URL and field names. A form or
URL added later is covered without touching this file.

Examples per form come from a Hypothesis settings profile: ``FORM_FUZZ_PROFILE=forms-ci``
(default, under a minute on PostgreSQL) or ``forms-deep`` for a long local run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.contrib.messages import constants, get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from billing.models import StripeAccount
from crewcommand.services import invitation_create
from tests.factories import EstimateFactory, InvoiceFactory
from tests.fakes.stripe_server import DEFAULT_WEBHOOK_SECRET
from tests.portal.helpers import issue
from tests.urlwalk import contractor_routes, load_extensions, portal_routes

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

settings.register_profile(
    "forms-ci",
    max_examples=10,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
settings.register_profile(
    "forms-deep", parent=settings.get_profile("forms-ci"), max_examples=60, derandomize=False
)
PROFILE = settings.get_profile(os.environ.get("FORM_FUZZ_PROFILE", "forms-ci"))

# Forms whose success ends the session or the test's world rather than exercising input.
SKIPPED_ACTIONS = ("/logout/",)

HOSTILE = [
    "\x00",
    "a\x00b",
    "%00",
    "\r\n",
    "Alice\r\nBcc: x@evil.example",
    "\x1b[31m\x07",
    "1e309",
    "-1e309",
    "1E+999999999",
    "NaN",
    "-Infinity",
    "Infinity",
    "sNaN",
    "99999999999999999999999999",
    "-99999999.99",
    "999999.999",
    "99999999.99",
    "100000000",
    "-1",
    "0",
    "0.001",
    "1.005",
    "1_000",
    "\uff11\uff12\uff13",  # fullwidth digits: Python's Decimal() accepts them
    "\u0663\u066b\u0665",  # Arabic-Indic 3.5
    "$1,234.56",
    "1 234,56 $",
    "2026-02-30",
    "9999-12-31",
    "0001-01-01",
    "25:61",
    "x" * 5000,
    "🎉" * 300,
    "e\u0301\u202e\u200b",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "' OR 1=1 --",
    "../../etc/passwd",
    "{{ 7*7 }}{% debug %}",
    "",
    " ",
]
ABSENT = object()


# --- Finding the forms ---------------------------------------------------------------------------


@dataclass
class Target:
    method: str
    url: str
    fields: dict[str, str] = field(default_factory=dict)  # name -> value as rendered
    files: set[str] = field(default_factory=set)

    @property
    def key(self) -> tuple:
        # The same form reached through several links of one customer is fuzzed once.
        path = re.sub(r"^/p/[^/]+/", "/p/<token>/", urlsplit(self.url).path)
        return (self.method, path, tuple(sorted(self.fields)), tuple(sorted(self.files)))


class FormParser(HTMLParser):
    """Collects each form (and each element with ``hx-post``) with its fields' names and the
    values the page rendered into them."""

    def __init__(self, page_url: str) -> None:
        super().__init__()
        self.page_url = page_url
        self.targets: list[Target] = []
        self._form: Target | None = None
        self._textarea: str | None = None
        self._select: str | None = None

    def _url(self, attrs: dict) -> str:
        action = attrs.get("hx-post") or attrs.get("action") or self.page_url
        return urlsplit(urljoin(self.page_url, action))._replace(fragment="").geturl()

    def handle_starttag(self, tag: str, attrs_list: list) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        if tag == "form":
            method = "post" if attrs.get("hx-post") else (attrs.get("method") or "get").lower()
            self._form = Target(method, self._url(attrs))
            self.targets.append(self._form)
        elif "hx-post" in attrs and self._form is None:
            self.targets.append(Target("post", self._url(attrs)))
        if tag == "option" and self._form is not None and self._select:
            if attrs.get("value") and ("selected" in attrs or not self._form.fields[self._select]):
                self._form.fields[self._select] = attrs["value"]
            return
        if self._form is None or not (name := attrs.get("name")):
            return
        if tag == "input":
            kind = attrs.get("type", "text").lower()
            if kind == "file":
                self._form.files.add(name)
            elif kind in {"checkbox", "radio"}:
                if "checked" in attrs or name not in self._form.fields:
                    self._form.fields[name] = attrs.get("value", "on")
            elif kind not in {"submit", "button", "reset", "image"}:
                self._form.fields[name] = attrs.get("value", "")
        elif tag == "textarea":
            self._textarea = name
            self._form.fields[name] = ""
        elif tag == "select":
            self._select = name
            self._form.fields.setdefault(name, "")
        elif tag == "button" and attrs.get("value"):
            self._form.fields.setdefault(name, attrs["value"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea:
            self._form.fields[self._textarea] += data


def forms_on(client: Client, url: str) -> list[Target]:
    response = client.get(url, follow=True)
    assert response.status_code < 500, (url, response.status_code)
    if "html" not in response.get("Content-Type", ""):
        return []
    if response.redirect_chain:
        url = response.redirect_chain[-1][0]
    parser = FormParser(url)
    parser.feed(response.content.decode())
    own_site = ("/app/", "/p/")
    return [
        t
        for t in parser.targets
        if urlsplit(t.url).path.startswith(own_site)
        and not urlsplit(t.url).path.endswith(SKIPPED_ACTIONS)
    ]


def dashboard_pages(objects: dict) -> Iterator[str]:
    for route in contractor_routes():
        values = {**objects, **objects.get(route.name, {})}
        yield reverse(route.name, kwargs={k: values[k] for k in route.kwargs})


def portal_pages(objects: dict) -> Iterator[str]:
    """Every portal URL pattern with the token of each live link, plus an unknown token (its
    page offers the "send me a fresh link" form)."""
    for token in objects["tokens"]:
        for route in portal_routes():
            values = {**objects, "token": token}
            if set(route.kwargs) <= set(values):
                yield reverse(route.name, kwargs={k: values[k] for k in route.kwargs})
    yield reverse("portal:home", args=["x" * 43])


def collect(client: Client, pages) -> dict[tuple, Target]:
    found: dict[tuple, Target] = {}
    for page in pages:
        for target in forms_on(client, page):
            found.setdefault(target.key, target)
    return found


# --- The world the forms act on ------------------------------------------------------------------


@pytest.fixture
def world(settings, fake_stripe, owner, customer, job):
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_API_BASE = fake_stripe.url
    settings.STRIPE_WEBHOOK_SECRET = DEFAULT_WEBHOOK_SECRET
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    StripeAccount.objects.create(
        company=owner.company,
        allow_partial_payments=True,
        account_id=fake_stripe.add_account()["id"],
        charges_enabled=True,
        details_submitted=True,
        connected_at=timezone.now(),
    )
    invitation = invitation_create(
        company=owner.company, by=owner.user, email="new@example.com", role="office"
    )
    objects: dict = {
        "customer_id": customer.public_id,
        "job_id": job.public_id,
        "invitation_id": invitation.public_id,
    }
    for extend in load_extensions():
        objects.update(extend(owner=owner, customer=customer, job=job))
    estimate, invoice = EstimateFactory(customer=customer), InvoiceFactory(customer=customer)
    links = [issue(customer, estimate), issue(customer, invoice), issue(customer)]
    portal = {
        "tokens": [link.url.rstrip("/").rsplit("/", 1)[1] for link in links],
        "estimate_id": estimate.public_id,
        "invoice_id": invoice.public_id,
    }
    return objects, portal


def fingerprint() -> list[tuple[str, str]]:
    """A digest of every row of every table but sessions, in one query: equal before and after
    means the request wrote nothing."""
    with connection.cursor() as cursor:
        tables = [
            t
            for t in connection.introspection.table_names(cursor)
            if t not in {"django_session", "django_migrations"}
        ]
        parts = [
            f"SELECT '{t}', md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) "
            f"FROM {connection.ops.quote_name(t)} x"
            for t in tables
        ]
        cursor.execute(" UNION ALL ".join(parts))  # table names come from the catalogue
        return sorted(cursor.fetchall())


def reports_an_error(response) -> bool:
    if response.status_code >= 400:
        return True
    body = response.content.decode(errors="replace")
    if 'class="form-errors"' in body or 'class="field-error"' in body:
        return True
    return any(m.level >= constants.ERROR for m in get_messages(response.wsgi_request))


# Tried on every form, whatever Hypothesis draws: each hostile value in every field at once, and
# the largest numbers the forms accept (a quantity and a price at their maxima overflowed the
# totals column).
EXPLICIT = ["\x00", "1e309", "NaN", "-1", "x" * 5000, "Alice\r\nBcc: x@evil.example", "🎉" * 300]


def _largest(name: str) -> str:
    return "999999.999" if "quantity" in name else "99999999.99"


def explicit_examples(target: Target) -> list[dict]:
    names = [n for n in target.fields if n != "csrfmiddlewaretoken"]
    payloads = [{**target.fields, **dict.fromkeys(names, value)} for value in EXPLICIT]
    numeric = {n: _largest(n) for n in names if _NUMBER.fullmatch(target.fields[n] or "")}
    numeric.update({n: _largest(n) for n in names if n in {"quantity", "unit_price"}})
    if numeric:
        # Empty text fields get a plain word, so the form is otherwise valid and the numbers
        # reach the service.
        filled = {n: target.fields[n] or "Fuzz" for n in names}
        payloads.append({**target.fields, **filled, **numeric})
    return [{**payload, **dict.fromkeys(target.files, b"\x89PNG\r\n")} for payload in payloads]


_NUMBER = re.compile(r"-?[0-9][0-9,]*(\.[0-9]+)?")


def values_for(target: Target):
    hostile = st.sampled_from(HOSTILE) | st.text(max_size=200) | st.integers().map(str)
    fields = {
        name: st.sampled_from([default, ABSENT]) | hostile
        for name, default in target.fields.items()
    }
    files = {name: st.binary(max_size=3000) for name in target.files}
    return st.fixed_dictionaries({**fields, **files})


def post(client: Client, target: Target, values: dict):
    data = {}
    for name, value in values.items():
        if value is ABSENT:
            continue
        if name in target.files:
            data[name] = SimpleUploadedFile("upload.png", value, content_type="image/png")
        else:
            data[name] = value
    if target.method == "get":
        return client.get(target.url, {k: v for k, v in data.items() if k not in target.files})
    return client.post(target.url, data, headers={"HX-Request": "true"})


def fuzz(client: Client, target: Target) -> int:
    """Run the examples against one form; returns how many requests were made."""
    sent = 0

    @settings(PROFILE)
    @given(values=values_for(target))
    def check(values):
        nonlocal sent
        sent += 1
        before = fingerprint()
        response = post(client, target, values)
        assert response.status_code < 500, (target.url, values, response.status_code)
        if reports_an_error(response):
            assert fingerprint() == before, ("an error response changed data", target.url, values)

    for payload in explicit_examples(target):
        check = example(values=payload)(check)
    check()
    return sent


def test_every_form_survives_hostile_input_without_a_5xx_or_a_partial_write(world, owner_client):
    objects, portal_objects = world
    dashboard = collect(owner_client, dashboard_pages(objects))
    customer_client = Client()
    portal = collect(customer_client, portal_pages(portal_objects))
    posts = [t for t in [*dashboard.values(), *portal.values()] if t.method == "post"]
    assert len(posts) >= 25, sorted(t.url for t in posts)
    assert any("/p/" in t.url for t in posts), sorted(t.url for t in posts)
    sent = sum(fuzz(owner_client, target) for target in dashboard.values())
    sent += sum(fuzz(customer_client, target) for target in portal.values())
    print(f"form fuzz: {len(dashboard) + len(portal)} forms, {sent} requests")
    assert sent >= 10 * len(posts)
