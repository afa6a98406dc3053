"""Portal pages: what a customer sees, the headers every page carries, views recorded only
on real GETs, constant query counts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crewcommand.lib.money import format_cad
from crewcommand.models import Activity
from documents.models import EstimateStatus, InvoiceStatus
from documents.totals import Selection
from tests.factories import FURNACE_LINES, EstimateFactory, InvoiceFactory
from tests.portal.conftest import PHONE_UA
from tests.portal.helpers import issue

pytestmark = pytest.mark.django_db

PORTAL_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _assert_portal_headers(response) -> None:
    for name, value in PORTAL_HEADERS.items():
        assert response[name] == value, name
    assert "noindex" in response["X-Robots-Tag"]
    csp = response["Content-Security-Policy"]
    assert (
        "script-src 'self'" in csp
        and "unsafe-inline" not in csp
        and "http" not in csp.split("form-action")[0]
    )
    assert "default-src 'self'" in csp


def test_every_portal_url_sends_the_privacy_headers(phone, estimate, estimate_link, customer):
    invoice = InvoiceFactory(customer=customer)
    whole = issue(customer)
    urls = [
        reverse("portal:home", args=[whole.token]),
        reverse("portal:estimate", args=[estimate_link.token, estimate.public_id]),
        reverse("portal:estimate_totals", args=[estimate_link.token, estimate.public_id]),
        reverse("portal:estimate_decline", args=[estimate_link.token, estimate.public_id]),
        reverse("portal:estimate_changes", args=[estimate_link.token, estimate.public_id]),
        reverse("portal:invoice", args=[whole.token, invoice.public_id]),
        reverse("portal:home", args=[estimate_link.token]),  # redirect
        "/p/unknown-token/",
        f"/p/{whole.token}/no-such-page/",
    ]
    for url in urls:
        response = phone.get(url)
        assert response.status_code in {200, 302, 404}, url
        _assert_portal_headers(response)


def test_home_lists_the_customers_documents_with_status_and_balance(phone, customer):
    estimate = EstimateFactory(customer=customer)
    invoice = InvoiceFactory(customer=customer, lines=FURNACE_LINES)
    draft = EstimateFactory(customer=customer, sent=False)
    whole = issue(customer)
    body = phone.get(f"/p/{whole.token}/").content.decode()
    assert estimate.display_number in body and invoice.display_number in body
    assert draft.display_number not in body
    assert "$246.34" in body.replace("\xa0", " ")  # (149 + 2 x 34.50) x 1.13
    assert customer.company.name in body


def test_a_link_to_one_document_opens_it_directly(phone, estimate, estimate_link, invoice):
    response = phone.get(f"/p/{estimate_link.token}/")
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "portal:estimate", args=[estimate_link.token, estimate.public_id]
    )
    invoice_link = issue(invoice.customer, invoice)
    assert phone.get(f"/p/{invoice_link.token}/")["Location"].endswith(
        f"/invoices/{invoice.public_id}/"
    )


def test_the_estimate_page_shows_the_whole_document(phone, estimate, estimate_link):
    response = phone.get(reverse("portal:estimate", args=[estimate_link.token, estimate.public_id]))
    body = response.content.decode().replace("\xa0", " ")
    for text in (
        "Remove and dispose of the old water heater",
        "50-gallon tank",
        "Tankless heater",
        "Water softener",
        "Work starts within 10 business days",
        "Parking in the driveway",
        "HST 13%",
        "$2,457.75",  # 180 + 380 + 1450 + 165 = 2175, +13%
        "$614.44",  # 25% deposit
        'name="signer_name"',
        "signature_pad.umd.min.js",
    ):
        assert text in body, text
    assert 'type="radio" name="choice-1"' in body


def test_totals_follow_the_selection_without_changing_anything(phone, estimate, estimate_link):
    lines = {line.description: line for line in estimate.current_revision.lines.all()}
    url = reverse("portal:estimate_totals", args=[estimate_link.token, estimate.public_id])
    response = phone.get(
        url,
        {
            "choice-1": lines["Tankless heater"].public_id,
            "optional": lines["Water softener"].public_id,
        },
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode().replace("\xa0", " ")
    # 180 + 380 + 2890 + 1195 = 4645 → HST 603.85 → 5248.85
    assert "$5,248.85" in body and 'id="sticky-total"' in body and "hx-swap-oob" in body
    estimate.refresh_from_db()
    assert estimate.status == EstimateStatus.SENT  # htmx totals are not views
    # Unknown ids are ignored, never a 500.
    assert phone.get(url, {"optional": "zzz", "choice-1": "<script>"}).status_code == 200


def test_viewing_records_the_view_and_marks_the_document_viewed_once(
    phone, estimate, estimate_link
):
    url = reverse("portal:estimate", args=[estimate_link.token, estimate.public_id])
    phone.get(url)
    phone.get(url)
    link = estimate_link.link
    link.refresh_from_db()
    estimate.refresh_from_db()
    assert link.view_count == 2 and link.first_viewed_at <= link.last_viewed_at
    assert link.last_device == "phone"
    assert estimate.status == EstimateStatus.VIEWED and estimate.viewed_at is not None
    assert Activity.objects.filter(verb="estimate.viewed").count() == 1


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "WhatsApp/2.23.20.0",
        "Mozilla/5.0 (compatible; Barracuda Sentinel)",
    ],
)
def test_link_scanners_and_head_requests_do_not_count_as_views(
    client, estimate, estimate_link, agent
):
    url = reverse("portal:estimate", args=[estimate_link.token, estimate.public_id])
    assert client.get(url, HTTP_USER_AGENT=agent).status_code == 200
    assert client.head(url, HTTP_USER_AGENT=PHONE_UA).status_code == 200
    assert client.get(url, HTTP_USER_AGENT=PHONE_UA, HTTP_SEC_PURPOSE="prefetch").status_code == 200
    estimate.refresh_from_db()
    estimate_link.link.refresh_from_db()
    assert estimate.status == EstimateStatus.SENT
    assert estimate_link.link.view_count == 0


def test_invoice_page_shows_lines_balance_and_the_billing_slot(phone, invoice, invoice_link):
    url = reverse("portal:invoice", args=[invoice_link.token, invoice.public_id])
    body = phone.get(url).content.decode().replace("\xa0", " ")
    # One line, $1,200.00 + 13 % HST.
    assert "Water heater" in body and "$1,356.00" in body and 'id="pay"' in body
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VIEWED


def _queries(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context.captured_queries)


@pytest.mark.parametrize("name", ["home", "estimate", "invoice"])
def test_portal_pages_use_a_constant_number_of_queries(
    phone, customer, django_assert_max_num_queries, name
):
    """Rendered (page cache empty) and answered from the page cache alike."""
    from django.core.cache import cache

    from crewcommand.lib import pagecache

    def empty_caches() -> None:  # Redis and this process's own copies of the pages
        cache.clear()
        pagecache.forget_local()

    estimate, invoice = EstimateFactory(customer=customer), InvoiceFactory(customer=customer)
    whole = issue(customer)
    args = {"home": [], "estimate": [estimate.public_id], "invoice": [invoice.public_id]}[name]
    url = reverse(f"portal:{name}", args=[whole.token, *args])
    phone.get(url)  # the first view also writes an activity row
    empty_caches()
    few = _queries(phone, url), _queries(phone, url)
    assert few[1] <= few[0]
    for _ in range(5):
        EstimateFactory(customer=customer), InvoiceFactory(customer=customer)
    empty_caches()
    with django_assert_max_num_queries(9):
        rendered = _queries(phone, url)
    with django_assert_max_num_queries(9):
        cached = _queries(phone, url)
    assert few == (rendered, cached), (few, rendered, cached)


def test_branding_and_contact_appear_on_portal_pages(phone, estimate, estimate_link):
    company = estimate.company
    company.brand_color, company.phone, company.website = (
        "#7c2d12",
        "613 555 0100",
        "https://maple.example",
    )
    company.save()
    body = phone.get(
        reverse("portal:estimate", args=[estimate_link.token, estimate.public_id])
    ).content.decode()
    assert "--accent:#7c2d12" in body
    assert 'href="tel:+16135550100"' in body  # E.164, whatever was typed
    assert "(613) 555-0100" in body
    assert 'rel="noreferrer noopener"' in body


def test_home_shows_the_total_the_customer_signed_not_the_default_one(customer, phone):
    """An accepted estimate lists the total of the options the customer chose."""
    from documents.totals import revision_totals
    from tests.portal.helpers import sign

    estimate = EstimateFactory(customer=customer)
    link = issue(customer)
    sign(estimate, issue(customer, estimate))
    estimate.refresh_from_db()
    revision = estimate.accepted_revision
    chosen = revision_totals(revision, Selection.from_json(estimate.accepted_selection)).total
    body = phone.get(link.path).content.decode()
    assert format_cad(chosen) in body
