"""WCAG 2.2 AA checks with axe-core in real Chromium, on the pages people use most.

axe-core (MPL-2.0) is vendored for tests only in tests/vendor/axe-core/ by scripts/vendor-static.
It is injected as a script, so this module's browser contexts bypass the page's CSP; every other
browser test runs with the CSP on.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from tests.factories import EstimateFactory, InvoiceFactory
from tests.portal.helpers import issue
from tests.test_form_fuzz import world  # noqa: F401 - the fixture, shared

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text()
RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "bypass_csp": True}


# Counts htmx requests in flight in every page of the context (installed before its scripts).
COUNT_REQUESTS = """
window.__htmxInFlight = 0;
document.addEventListener("htmx:beforeSend", () => { window.__htmxInFlight += 1; });
document.addEventListener("htmx:afterRequest", () => { window.__htmxInFlight -= 1; });
"""
# Loaded, and htmx has nothing in flight, being swapped or settling (a lazy panel's content is
# in, and any request it starts in turn has started): what "networkidle" waited for, without
# its fixed half-second of network silence after every page.
SETTLED = """() => document.readyState === "complete" && window.__htmxInFlight === 0
    && !document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added")"""


@pytest.fixture
def page(page):
    page.add_init_script(COUNT_REQUESTS)
    return page


def load(page, url: str, timeout: float = 30_000) -> None:
    page.goto(url, wait_until="load", timeout=timeout)
    page.wait_for_function(SETTLED, timeout=timeout)


def serious_violations(page) -> list[str]:
    page.add_script_tag(content=AXE)
    # Only violations are read: axe builds selectors and HTML snippets for every node of every
    # other result type (passes, incomplete, inapplicable) unless told so, and ships them back.
    result = page.evaluate(
        """async (tags) => await axe.run(document, {
            runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})""",
        RULES,
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


def _check(page, url: str) -> None:
    load(page, url)
    problems = serious_violations(page)
    assert not problems, f"{url}:\n" + "\n".join(problems)


def test_dashboard_pages_have_no_serious_violations(live_server, login_as, owner, customer, job):
    from crewcommand.lib.activity import Actor
    from documents import services

    actor = Actor.member(owner.user)
    estimate = EstimateFactory(customer=customer)
    invoice = services.invoice_create(company=owner.company, customer=customer, actor=actor)
    page = login_as(owner)
    base = live_server.url
    for url in [
        reverse("dashboard:home"),
        reverse("dashboard:customer_list"),
        reverse("dashboard:customer_create"),
        customer.get_absolute_url(),
        job.get_absolute_url(),
        reverse("dashboard:job_week"),
        reverse("documents:estimate_list"),
        estimate.get_absolute_url(),
        reverse("documents:invoice_list"),
        invoice.get_absolute_url(),
        reverse("billing_dashboard:payment_list"),
    ]:
        _check(page, base + url)


def test_public_and_portal_pages_have_no_serious_violations(live_server, page, customer):
    page.set_viewport_size({"width": 390, "height": 844})
    estimate = EstimateFactory(customer=customer)
    invoice = InvoiceFactory(customer=customer)
    base = live_server.url
    for url in [
        reverse("login"),
        reverse("signup"),
        issue(customer, estimate).path,
        issue(customer, invoice).path,
        issue(customer).path,
        "/p/this-is-not-a-real-link-at-all-0000000000000/",
    ]:
        _check(page, base + url)


# --- Every page, found from the URL configuration ------------------------------------------------

# Routes that are not pages a person reads: machine endpoints and the admin (Django's own).
NOT_PAGES = ("healthz", "logout", "quickbooks_webhook", "twilio_status", "twilio_inbound")


def _pages(client, routes, values: dict) -> list[str]:
    """The URLs of these routes that answer a GET with an HTML page (not a PDF, a CSV, an htmx
    fragment, a redirect elsewhere or a POST-only action)."""
    from tests.urlwalk import url_for

    bogus = {"token": "x" * 43, "uidb64": "MQ", "slug": "no-such-company"}
    found = []
    for route in routes:
        if route.name in NOT_PAGES or route.name.endswith(("webhooks:stripe",)):
            continue
        own = {**values, **values.get(route.name, {})}
        extra = {k: bogus[k] for k in route.kwargs if k not in own and k in bogus}
        url = url_for(route, values, **extra)
        response = client.get(url)
        if response.status_code not in (200, 404) or "html" not in response.get("Content-Type", ""):
            continue
        # An htmx fragment (a page's live part, also answering a plain GET) is not a page.
        if b"<html" in response.content[:500].lower():
            found.append(url)
    return found


def _walk_check(page, base: str, urls: list[str]) -> list[str]:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    problems = []
    for url in urls:
        try:
            load(page, base + url, timeout=15_000)
        except PlaywrightTimeout:  # a page that keeps loading: check it as it is
            page.wait_for_load_state("load")
        found = serious_violations(page)
        if found:
            problems.append(f"{url}:\n  " + "\n  ".join(found))
    return problems


def test_every_page_has_no_serious_violations(live_server, page, world, owner, customer):  # noqa: F811
    """Every dashboard page at 1280 px and every customer-facing page (portal, booking, review,
    unsubscribe, sign-up and login pages, invalid links) at 390 px, found by walking the URL
    configuration with the objects of ``tests/<app>/tenancy.py``: no serious or critical axe
    violation."""
    from django.conf import settings as django_settings
    from django.test import Client
    from django.urls import get_resolver

    from reviews.services import review_link_for
    from tests.factories import PaymentFactory
    from tests.urlwalk import _walk, contractor_routes, portal_routes

    objects, portal = world
    owner.company.google_review_url = "https://g.page/r/example/review"
    owner.company.save(update_fields=["google_review_url"])
    review = review_link_for(customer=customer).rstrip("/").rsplit("/", 1)[1]
    from documents.models import Invoice

    payment = PaymentFactory(invoice=Invoice.objects.get(public_id=portal["invoice_id"]))
    member = Client()
    member.force_login(owner.user)
    dashboard = _pages(member, contractor_routes(), objects)
    public_routes = [
        r
        for r in _walk(get_resolver().url_patterns, "", None)
        if not r.route.startswith(("app/", "p/", "admin/"))
    ]
    visitor = Client()
    customer_pages = _pages(
        visitor,
        portal_routes(),
        {**portal, "token": portal["tokens"][2], "payment_id": payment.public_id},
    )
    customer_pages += _pages(
        visitor,
        public_routes,
        {
            "slug": owner.company.slug,
            "payment_id": payment.public_id,
            "reviews:landing": {"token": review},
            "reviews:feedback": {"token": review},
            "reviews:go": {"token": review},
        },
    )
    assert len(dashboard) >= 40, dashboard
    assert len(customer_pages) >= 15, customer_pages

    cookie = member.cookies[django_settings.SESSION_COOKIE_NAME]
    page.set_viewport_size({"width": 390, "height": 844})
    problems = _walk_check(page, live_server.url, customer_pages)
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    page.set_viewport_size({"width": 1280, "height": 900})
    problems += _walk_check(page, live_server.url, dashboard)
    print(
        f"axe walk: {len(customer_pages)} customer-facing pages at 390 px, "
        f"{len(dashboard)} dashboard pages at 1280 px, {len(problems)} with serious violations"
    )
    assert not problems, "\n".join(problems)
