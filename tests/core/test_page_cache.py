"""The page cache (crewcommand.lib.pagecache) on the customer pages that use it: the portal's
invoice and estimate pages, the booking page and the review landing page.

A cached answer is the page a fresh render gives (but for the CSRF token and the CSP nonce,
fresh in every answer); anything the page is made of changing (the document, the company, the
customer, the booking settings, the language) gives the new page at once; two customers, two
links or two languages never get each other's page; no secret token is ever stored."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from booking.models import BookingSettings
from crewcommand.lib import pagecache
from documents.models import Invoice
from reviews import services as reviews
from tests.factories import CustomerFactory, EstimateFactory, InvoiceFactory, PaymentFactory
from tests.portal.helpers import issue

pytestmark = pytest.mark.django_db

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"')
NONCE = re.compile(r'nonce="([^"]+)"')


def _plain(body: str) -> str:
    """A page without what must differ between two answers."""
    body = re.sub(r"[A-Za-z0-9]{64}", "CSRF", body)
    return NONCE.sub('nonce="N"', body)


def _stored() -> list[str]:
    """Everything the page cache holds, as text."""
    from django.core.cache.backends.redis import RedisCache, RedisCacheClient

    if isinstance(cache, RedisCache) or isinstance(cache._cache, RedisCacheClient):  # type: ignore[attr-defined]
        client = cache._cache.get_client()  # type: ignore[attr-defined]
        keys = [k for k in client.keys("*") if b"page:" in k]
        return [repr(cache._cache._serializer.loads(client.get(k))) for k in keys]  # type: ignore[attr-defined]
    return [repr(v) for k, v in cache._cache.items() if "page:" in k]  # type: ignore[attr-defined]


def _get(client: Client, url: str, **headers) -> tuple[str, str]:
    """The page and the SQL it ran."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, headers=headers)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode(), "\n".join(q["sql"] for q in queries.captured_queries)


def _invoice_url(issued, invoice) -> str:
    return reverse("portal:invoice", args=[issued.token, invoice.public_id])


def test_a_cached_invoice_page_is_the_rendered_page_with_a_fresh_csrf_token_and_nonce(customer):
    invoice = InvoiceFactory(customer=customer)
    issued = issue(customer, invoice)
    url = _invoice_url(issued, invoice)
    client = Client()
    client.get(url)  # the first view marks it viewed (a change: a new page)
    cache.clear()
    first, rendered_sql = _get(client, url)
    second, cached_sql = _get(client, url)
    # The lines are read to render the page, not to answer from the cache.
    assert "documents_lineitem" in rendered_sql and "documents_lineitem" not in cached_sql
    assert _plain(first) == _plain(second)
    assert CSRF.search(first).group(1) != CSRF.search(second).group(1)
    assert NONCE.search(first).group(1) != NONCE.search(second).group(1)
    assert issued.token in second
    # What a render without the cache gives (a signed-in contractor previewing it).
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pagecache, "usable", lambda request: False)
        fresh, _q = _get(client, url)
    assert _plain(fresh) == _plain(second)


def test_the_cached_pages_csrf_token_is_accepted(customer):
    invoice = InvoiceFactory(customer=customer)
    issued = issue(customer, invoice)
    url = _invoice_url(issued, invoice)
    client = Client(enforce_csrf_checks=True)
    client.get(url)
    body, _q = _get(client, url)  # from the cache
    token = CSRF.search(body).group(1)
    response = client.post(
        reverse("portal:language", args=[issued.token]),
        {"csrfmiddlewaretoken": token, "language": "fr-ca", "next": url},
    )
    assert response.status_code == 302


def test_no_token_is_stored_in_the_cache(customer):
    invoice = InvoiceFactory(customer=customer)
    estimate = EstimateFactory(customer=customer)
    links = [issue(customer, invoice), issue(customer, estimate)]
    client = Client()
    for _ in range(2):
        client.get(_invoice_url(links[0], invoice))
        client.get(reverse("portal:estimate", args=[links[1].token, estimate.public_id]))
    review_url = reviews.review_link_for(customer=customer)
    client.get(review_url)
    stored = "\n".join(_stored())
    assert "page" and stored
    for issued in links:
        assert issued.token not in stored
    assert review_url.rsplit("/r/", 1)[1].strip("/") not in stored


@pytest.mark.parametrize(
    "change",
    ["invoice notes", "invoice lines", "payment", "company", "customer", "language"],
)
def test_a_change_to_what_the_page_shows_shows_at_once(customer, change):
    invoice = InvoiceFactory(customer=customer)
    issued = issue(customer, invoice)
    url = _invoice_url(issued, invoice)
    client = Client()
    client.get(url)
    before, _q = _get(client, url)
    if change == "invoice notes":
        # Even a write that skips the services (no updated_at stamp) is a new key.
        Invoice.objects.filter(pk=invoice.pk).update(notes="Gate code 4411")
        expected = "Gate code 4411"
    elif change == "invoice lines":
        from documents import services as documents

        line = invoice.lines.get()
        line.description = "Expansion tank, relined"
        line.save()
        documents.totals_refresh(owner=Invoice.objects.get(pk=invoice.pk))
        expected = "Expansion tank, relined"
    elif change == "payment":
        PaymentFactory(invoice=Invoice.objects.get(pk=invoice.pk), amount=Decimal("100.00"))
        expected = "Payments received"
    elif change == "company":
        customer.company.name = "Birch Heating"
        customer.company.save()
        expected = "Birch Heating"
    elif change == "customer":
        customer.name = "Zoé Gagnon-Lévesque"
        customer.save()
        expected = "Zoé Gagnon-Lévesque"
    else:
        customer.language = "fr-ca"
        customer.save()
        expected = 'lang="fr-ca"'
    assert expected not in before
    after, _q = _get(client, url)
    assert expected in after


def test_two_customers_and_two_links_never_get_each_others_page(company):
    alice = CustomerFactory(company=company, name="Alice Tremblay")
    bob = CustomerFactory(company=company, name="Bob Roy")
    alice_invoice = InvoiceFactory(customer=alice)
    bob_invoice = InvoiceFactory(customer=bob)
    alice_links = [issue(alice, alice_invoice), issue(alice, alice_invoice), issue(alice)]
    bob_link = issue(bob, bob_invoice)
    client = Client()
    pages = {}
    for _ in range(2):
        for n, issued in enumerate(alice_links):
            pages[n], _q = _get(client, _invoice_url(issued, alice_invoice))
        pages["bob"], _q = _get(client, _invoice_url(bob_link, bob_invoice))
    for n, issued in enumerate(alice_links):
        others = [i for i in (*alice_links, bob_link) if i is not issued]
        assert issued.token in pages[n] and "Alice Tremblay" in pages[n]
        assert not any(other.token in pages[n] for other in others)
        assert "Bob Roy" not in pages[n]
    assert "Bob Roy" in pages["bob"] and "Alice Tremblay" not in pages["bob"]
    # The customer-wide link shows the way back to all documents; the invoice's own does not.
    assert f'href="{reverse("portal:home", args=[alice_links[2].token])}"' in pages[2]
    assert f'href="{reverse("portal:home", args=[alice_links[0].token])}"' not in pages[0]


def test_an_estimates_picks_and_languages_are_pages_of_their_own(customer):
    estimate = EstimateFactory(customer=customer)
    issued = issue(customer, estimate)
    url = reverse("portal:estimate", args=[issued.token, estimate.public_id])
    client = Client()
    client.get(url)
    default, _q = _get(client, url)
    assert _get(client, url)[0].count("checked") == default.count("checked")
    tankless = next(
        line for line in estimate.current_revision.lines.all() if "Tankless" in line.description
    )
    picked, _q = _get(client, f"{url}?picks=1&choice-1={tankless.public_id}")
    assert _plain(picked) != _plain(default)
    assert _plain(_get(client, url)[0]) == _plain(default)
    customer.language = "fr-ca"
    customer.save()
    french, _q = _get(client, url)
    assert 'lang="fr-ca"' in french and 'lang="en-ca"' in default


def _book(company) -> str:
    return reverse("booking_public:book", args=[company.slug])


def test_the_booking_page_is_cached_per_company_settings_and_language(company):
    other = CustomerFactory().company
    for c in (company, other):
        BookingSettings.objects.create(company=c, services="Drain cleaning")
    client = Client()
    first, _q = _get(client, _book(company))
    second, _q = _get(client, _book(company))
    assert _plain(first) == _plain(second)
    assert CSRF.search(first).group(1) != CSRF.search(second).group(1)
    theirs, _q = _get(client, _book(other))
    assert other.name in theirs and company.name not in theirs
    # Settings and company changes show at once.
    BookingSettings.objects.filter(company=company).update(services="Sump pumps")
    assert '<option value="Sump pumps">' in _get(client, _book(company))[0]
    company.name = "Birch Heating"
    company.save()
    assert "Birch Heating" in _get(client, _book(company))[0]
    # French and English visitors each get their own language.
    french, _q = _get(client, _book(company), Accept_Language="fr-CA,fr")
    english, _q = _get(client, _book(company), Accept_Language="en-CA,en")
    assert 'lang="fr-ca"' in french and 'lang="en-ca"' in english
    assert _get(client, _book(company), Accept_Language="fr-CA,fr")[0].count('lang="fr-ca"')


def test_the_cached_booking_pages_token_lets_the_visitor_post(company):
    from tests.booking.helpers import valid_post

    BookingSettings.objects.create(company=company, services="Drain cleaning")
    client = Client(enforce_csrf_checks=True)
    client.get(_book(company))
    body, _q = _get(client, _book(company))
    data = valid_post(service="Drain cleaning")
    data["csrfmiddlewaretoken"] = CSRF.search(body).group(1)
    assert client.post(_book(company), data).status_code == 302


def test_review_pages_carry_each_customers_own_token(company):
    company.google_review_url = "https://g.example/r"
    company.save()
    urls = [
        reviews.review_link_for(customer=CustomerFactory(company=company)).split("example", 1)[-1]
        for _ in range(2)
    ]
    paths = [re.search(r"/r/[^/]+/$", url).group(0) for url in urls]
    client = Client()
    pages = [_get(client, path)[0] for path in paths for _ in range(2)]
    assert f'href="{paths[0]}go/"' in pages[0] and f'href="{paths[0]}go/"' in pages[1]
    assert f'href="{paths[1]}go/"' in pages[3] and paths[0] not in pages[3]
    company.name = "Birch Heating"
    company.save()
    assert "Birch Heating" in _get(client, paths[0])[0]


def test_each_process_keeps_the_pages_it_answered_in_front_of_the_shared_cache(company):
    """The first tier: a page this process stored is answered from its memory (no round trip
    to Redis, nothing rendered or stored again), still with a fresh token; a change misses it
    like the shared cache."""
    BookingSettings.objects.create(company=company, services="Drain cleaning")
    client = Client()
    first, _q = _get(client, _book(company))
    assert _stored()
    cache.clear()
    second, _q = _get(client, _book(company))
    assert not _stored()  # answered from this process's memory: no render stored it again
    assert _plain(first) == _plain(second)
    assert CSRF.search(first).group(1) != CSRF.search(second).group(1)
    company.name = "Birch Heating"
    company.save()
    assert "Birch Heating" in _get(client, _book(company))[0]
    assert _stored()  # the changed page was rendered and stored in both tiers
    pagecache.forget_local()
    cache.clear()
    assert "Birch Heating" in _get(client, _book(company))[0]
