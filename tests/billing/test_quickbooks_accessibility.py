"""axe-core (WCAG 2.2 AA) on the QuickBooks pages, with records in every status, at 1280 and
390 px (no horizontal scroll on a phone)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from billing.quickbooks.models import RecordKind, SyncRecord, SyncStatus
from tests.billing.qbo import connect
from tests.test_accessibility import serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "bypass_csp": True}  # axe is injected as a script


def test_quickbooks_pages_have_no_serious_violations(
    live_server, login_as, owner, customer, qbo_on, client
):
    client.force_login(owner.user)
    connect(client, qbo_on)
    for n, status in enumerate(SyncStatus.values):
        SyncRecord.objects.create(
            company=owner.company,
            kind=RecordKind.INVOICE,
            local_id=1000 + n,
            label=f"INV-{1000 + n}",
            status=status,
            message="QuickBooks said: something" if status in ("error", "attention") else "",
        )
    ambiguous = SyncRecord.objects.create(
        company=owner.company,
        kind=RecordKind.CUSTOMER,
        local_id=customer.pk,
        label=customer.name,
        status=SyncStatus.ATTENTION,
        message="Several QuickBooks customers have this email. Choose one.",
        candidates=[{"id": "7", "name": customer.name, "email": "a@example.com"}],
    )
    page = login_as(owner)
    urls = [
        reverse("quickbooks:overview"),
        reverse("quickbooks:tax_codes"),
        reverse("quickbooks:log"),
        reverse("quickbooks:resolve", args=[ambiguous.public_id]),
        customer.get_absolute_url(),
    ]
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for url in urls:
            page.goto(live_server.url + url)
            assert serious_violations(page) == [], url
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, (url, width, scroll)
            name = url.strip("/").replace("/", "_")
            page.screenshot(path=f"/tmp/quickbooks-shots/{name}-{width}.png", full_page=True)
