"""Issue 18, point 3: links to closed documents (paid, void, declined) expire the company's
``portal_closed_link_days`` after the document closed; the customer then gets the dead-link
page with "Send me a fresh link"; the contractor sees the planned expiry and extends or
revokes the link from the panel."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crewcommand.lib.activity import Actor
from documents import services as documents_services
from documents.models import Estimate, EstimateStatus, Invoice, InvoiceStatus
from portal import services
from portal.models import LinkStatus, PortalLink
from tests.factories import EstimateFactory, InvoiceFactory, PaymentFactory
from tests.portal.helpers import issue

pytestmark = pytest.mark.django_db

WRITES = ("INSERT", "UPDATE", "DELETE")
DAY = dt.timedelta(days=1)


def _paid(invoice: Invoice, *, days_ago: float = 0) -> Invoice:
    PaymentFactory(invoice=invoice, amount=invoice.total)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID and invoice.paid_at is not None
    if days_ago:
        paid_at = timezone.now() - dt.timedelta(days=days_ago)
        Invoice.objects.filter(pk=invoice.pk).update(paid_at=paid_at)
        invoice.refresh_from_db()
    return invoice


def _link(pk: int) -> PortalLink:
    return PortalLink.objects.select_related("company", "estimate", "invoice").get(pk=pk)


def _writes(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(WRITES)]


# --- When a link expires ------------------------------------------------------------------------


def test_a_link_to_a_paid_invoice_expires_exactly_the_set_days_after_payment(invoice):
    issued = issue(invoice.customer, invoice, expires_at=None)
    invoice = _paid(invoice)
    link = _link(issued.link.pk)
    boundary = invoice.paid_at + dt.timedelta(days=90)
    assert invoice.company.portal_closed_link_days == 90  # the default
    assert link.closed_expiry == boundary == link.planned_expiry
    assert link.status_at(boundary - dt.timedelta(microseconds=1)) == LinkStatus.ACTIVE
    assert link.status_at(boundary) == LinkStatus.EXPIRED
    assert link.status_at(boundary + dt.timedelta(seconds=1)) == LinkStatus.EXPIRED


def test_open_and_accepted_documents_never_expire_by_closing(invoice, customer):
    signed = EstimateFactory(customer=customer, signed=True)
    for document in (invoice, signed):
        link = _link(issue(customer, document, expires_at=None).link.pk)
        assert link.closed_expiry is None and link.planned_expiry is None
        assert link.status_at(timezone.now() + dt.timedelta(days=3650)) == LinkStatus.ACTIVE


def test_void_invoices_and_declined_estimates_are_closed_too(customer, estimate):
    void = InvoiceFactory(customer=customer)
    void_link = issue(customer, void)
    documents_services.invoice_void(invoice=void, actor=Actor.system())
    declined_link = issue(customer, estimate)
    services.estimate_decline(estimate=estimate, link=declined_link.link, reason="Too dear")
    for pk, model in ((void_link.link.pk, Invoice), (declined_link.link.pk, Estimate)):
        link = _link(pk)
        closed = link.document.closed_at
        assert closed is not None, model
        assert link.closed_expiry == closed + dt.timedelta(days=90)


def test_an_empty_setting_keeps_closed_documents_open(invoice):
    issued = issue(invoice.customer, invoice, expires_at=None)
    _paid(invoice, days_ago=400)
    company = invoice.company
    company.portal_closed_link_days = None
    company.save(update_fields=["portal_closed_link_days"])
    assert _link(issued.link.pk).status == LinkStatus.ACTIVE
    assert Client().get(f"/p/{issued.token}/").status_code == 302


def test_the_link_lifetime_still_applies_when_it_ends_first(invoice):
    issued = issue(invoice.customer, invoice)  # the company's 60 days
    invoice = _paid(invoice)
    link = _link(issued.link.pk)
    assert link.planned_expiry == link.expires_at < link.closed_expiry


def test_a_refund_that_reopens_the_invoice_clears_its_paid_date(invoice):
    from django.db.models import F

    from billing.models import Payment
    from billing.services import ledger

    invoice = _paid(invoice)
    paid_at = invoice.paid_at
    # Recomputed with nothing changed, the invoice stays paid from the same date.
    ledger.recompute_invoice(
        ledger.lock_documents(purpose="invoice", invoice_id=invoice.pk, estimate_id=None).invoice
    )
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID and invoice.paid_at == paid_at
    # Refunded in full (what the ledger sees), it is open again and the date is gone.
    Payment.objects.filter(invoice=invoice).update(amount_refunded=F("amount"))
    ledger.recompute_invoice(
        ledger.lock_documents(purpose="invoice", invoice_id=invoice.pk, estimate_id=None).invoice
    )
    invoice.refresh_from_db()
    assert invoice.status != InvoiceStatus.PAID and invoice.paid_at is None


# --- What the customer sees ---------------------------------------------------------------------


def test_an_expired_closed_link_gets_the_dead_link_page_and_a_fresh_link_reaches_the_file(
    invoice, django_capture_on_commit_callbacks
):
    issued = issue(invoice.customer, invoice, expires_at=None)
    url = reverse("portal:invoice", args=[issued.token, invoice.public_id])
    client = Client()
    _paid(invoice, days_ago=89)
    assert client.get(url).status_code == 200  # closed, not expired yet
    Invoice.objects.filter(pk=invoice.pk).update(paid_at=timezone.now() - 91 * DAY)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert _writes(queries.captured_queries) == []  # the expiry is derived, never stored
    body = response.content.decode()
    assert response.status_code == 404
    assert "This link has expired" in body and "Send me a fresh link" in body
    assert invoice.display_number not in body and invoice.customer.name not in body

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"contact": "stranger@example.com"})
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"contact": invoice.customer.email.upper()})
    assert response.status_code == 200 and "a fresh link is on its way" in response.content.decode()
    assert [m.to for m in mail.outbox] == [[invoice.customer.email]]
    fresh = PortalLink.objects.get(replaced_by__isnull=True, channel="fresh")
    assert _link(issued.link.pk).replaced_by_id == fresh.pk
    # The fresh link opens the old invoice for another period, counted from now.
    token = next(w for w in mail.outbox[0].body.split() if "/p/" in w).split("/p/")[1].split("/")[0]
    assert (
        Client().get(reverse("portal:invoice", args=[token, invoice.public_id])).status_code == 200
    )
    # (Until the link's own lifetime ends, 60 days here, before that period.)
    fresh = _link(fresh.pk)
    assert fresh.keep_until > timezone.now() + 89 * DAY
    assert fresh.planned_expiry == fresh.expires_at > timezone.now() + 59 * DAY


def test_a_link_to_all_documents_lists_open_ones_and_closed_ones_not_yet_expired(customer):
    recent, old, void_old = (InvoiceFactory(customer=customer) for _ in range(3))
    unpaid = InvoiceFactory(customer=customer)
    _paid(recent, days_ago=10)
    _paid(old, days_ago=120)
    documents_services.invoice_void(invoice=void_old, actor=Actor.system())
    Invoice.objects.filter(pk=void_old.pk).update(voided_at=timezone.now() - 200 * DAY)
    issued = issue(customer)
    body = Client().get(f"/p/{issued.token}/").content.decode()
    for shown in (recent, unpaid):
        assert shown.display_number in body
    for hidden in (old, void_old):
        assert hidden.display_number not in body
    # An expired closed document is out of the customer-wide link's reach, not only its list.
    url = reverse("portal:invoice", args=[issued.token, old.public_id])
    assert Client().get(url).status_code == 404
    # Extended by the contractor, the customer-wide link shows them all again.
    services.link_extend(link=issued.link, until=timezone.now() + 30 * DAY, actor=Actor.system())
    body = Client().get(f"/p/{issued.token}/").content.decode()
    assert old.display_number in body and void_old.display_number in body


# --- The contractor's panel ---------------------------------------------------------------------


def _panel_url(invoice: Invoice) -> str:
    return reverse("portal_dashboard:links_panel", args=["invoice", invoice.public_id])


def test_the_panel_shows_the_planned_expiry_of_a_closed_documents_link(owner_client, invoice):
    issue(invoice.customer, invoice, expires_at=None)
    invoice = _paid(invoice, days_ago=30)
    body = owner_client.get(_panel_url(invoice)).content.decode()
    planned = timezone.localtime(invoice.paid_at + 90 * DAY)
    assert "Expires" in body and planned.strftime("%b %-d, %Y") in body
    assert "(the invoice is closed)" in body and "+90 days" in body


def test_extending_by_ninety_days_brings_an_expired_link_back(owner_client, invoice):
    issued = issue(invoice.customer, invoice, expires_at=None)
    _paid(invoice, days_ago=100)
    assert Client().get(f"/p/{issued.token}/").status_code == 404
    url = reverse("portal_dashboard:link_extend", args=[issued.link.public_id])
    response = owner_client.post(url, {"days": "90"})
    assert response.status_code == 200
    link = _link(issued.link.pk)
    assert link.keep_until > timezone.now() + 89 * DAY
    assert link.status == LinkStatus.ACTIVE
    assert Client().get(f"/p/{issued.token}/").status_code == 302
    assert "extended portal link" in owner_client.get(invoice.get_absolute_url()).content.decode()


def test_extending_to_a_date_moves_the_links_own_expiry_too(owner_client, invoice):
    issued = issue(invoice.customer, invoice)  # expires in 60 days
    until = timezone.localdate() + dt.timedelta(days=200)
    url = reverse("portal_dashboard:link_extend", args=[issued.link.public_id])
    owner_client.post(url, {"until": until.isoformat()})
    link = _link(issued.link.pk)
    assert timezone.localtime(link.expires_at).date() == until
    assert timezone.localtime(link.planned_expiry).date() == until


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Choose a date, or press “+90 days”."),
        ({"until": "yesterday"}, "Enter a date like 2027-03-31."),
        ({"until": "2001-01-01"}, "Choose a date after today."),
        ({"until": "9999-12-31"}, "Choose a date within the next ten years."),
        ({"days": "-4"}, "Add at least one day."),
        ({"days": "ninety"}, "Enter a number of days, like 90."),
        ({"days": "99999"}, "Add at most 3650 days."),
        ({"days": "90", "until": "2030-01-01"}, "Choose either some days or a date, not both."),
    ],
)
def test_bad_input_on_the_extend_form_says_why_and_changes_nothing(
    owner_client, invoice, data, message
):
    issued = issue(invoice.customer, invoice)
    before = _link(issued.link.pk)
    url = reverse("portal_dashboard:link_extend", args=[issued.link.public_id])
    response = owner_client.post(url, data)
    assert response.status_code == 200
    assert message in response.content.decode()
    after = _link(issued.link.pk)
    assert (after.expires_at, after.keep_until, after.updated_at) == (
        before.expires_at,
        before.keep_until,
        before.updated_at,
    )


def test_a_revoked_link_cannot_be_extended(owner_client, invoice):
    issued = issue(invoice.customer, invoice)
    owner_client.post(reverse("portal_dashboard:link_revoke", args=[issued.link.public_id]))
    response = owner_client.post(
        reverse("portal_dashboard:link_extend", args=[issued.link.public_id]), {"days": "90"}
    )
    assert "was revoked and can&#x27;t be extended" in response.content.decode()
    link = _link(issued.link.pk)
    assert link.keep_until is None and link.status == LinkStatus.REVOKED
    assert Client().get(f"/p/{issued.token}/").status_code == 404


def test_revoking_a_closed_documents_link_from_the_panel_stops_it(owner_client, invoice):
    issued = issue(invoice.customer, invoice)
    _paid(invoice, days_ago=5)
    assert Client().get(f"/p/{issued.token}/").status_code == 302
    owner_client.post(reverse("portal_dashboard:link_revoke", args=[issued.link.public_id]))
    response = Client().get(f"/p/{issued.token}/")
    assert response.status_code == 404 and "turned this link off" in response.content.decode()


def test_technicians_cannot_extend_links(client, company, invoice):
    from crewcommand.models import Role
    from tests.factories import MemberFactory

    technician = MemberFactory(company=company, role=Role.TECHNICIAN)
    client.force_login(technician.user)
    issued = issue(invoice.customer, invoice)
    url = reverse("portal_dashboard:link_extend", args=[issued.link.public_id])
    assert client.post(url, {"days": "90"}).status_code == 403
    assert _link(issued.link.pk).keep_until is None


def test_the_settings_form_takes_blank_for_never_and_refuses_nonsense(owner_client, company):
    from crewcommand.forms import CompanyForm

    form_class = CompanyForm
    base = {k: v for k, v in form_class(instance=company).initial.items() if v is not None}
    for value, expected in (("", None), ("0", None), ("30", 30)):
        form = form_class({**base, "portal_closed_link_days": value}, instance=company)
        form.is_valid()
        assert "portal_closed_link_days" not in form.errors, form.errors
        assert form.cleaned_data["portal_closed_link_days"] == expected
    form = form_class({**base, "portal_closed_link_days": "4000"}, instance=company)
    assert not form.is_valid()
    assert "Choose at most 3650 days" in str(form.errors["portal_closed_link_days"])
    form = form_class({**base, "portal_closed_link_days": "-1"}, instance=company)
    assert not form.is_valid() and "portal_closed_link_days" in form.errors


def test_the_estimate_page_of_a_declined_estimate_expires_with_it(customer):
    estimate = EstimateFactory(customer=customer)
    issued = issue(customer, estimate, expires_at=None)
    services.estimate_decline(estimate=estimate, link=issued.link, reason="")
    Estimate.objects.filter(pk=estimate.pk).update(decided_at=timezone.now() - 91 * DAY)
    estimate.refresh_from_db()
    assert estimate.status == EstimateStatus.DECLINED
    url = reverse("portal:estimate", args=[issued.token, estimate.public_id])
    assert "This link has expired" in Client().get(url).content.decode()


def test_the_settings_page_offers_the_setting_and_saves_blank_as_never(owner_client, company):
    from django.forms.models import model_to_dict

    url = reverse("dashboard:settings")
    body = owner_client.get(url).content.decode()
    assert "Links to closed documents expire after (days)" in body
    assert 'name="portal_closed_link_days"' in body and 'value="90"' in body
    data = {k: v for k, v in model_to_dict(company).items() if v is not None and k != "logo"}
    data.update(portal_closed_link_days="", phone="416 555 0100", postal_code="M4C 1A1")
    owner_client.post(url, data)
    company.refresh_from_db()
    assert company.portal_closed_link_days is None
