"""Contractor pages: the payments list with filters and totals, the invoice panel (record and
refund), the mismatch list, the job summary and the Stripe connection page."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from billing import services
from billing.models import (
    IssueKind,
    Payment,
    PaymentIssue,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    StripeAccount,
)
from crewcommand.lib.activity import Actor
from crewcommand.models import Activity, Role
from documents.models import InvoiceStatus
from tests.factories import InvoiceFactory, MemberFactory, PaymentFactory

pytestmark = pytest.mark.django_db


# --- Payments list -----------------------------------------------------------------------------


def test_the_payments_list_filters_and_totals_with_constant_queries(
    owner_client, customer, django_assert_max_num_queries
):
    invoices = [InvoiceFactory(customer=customer) for _ in range(3)]
    cash = PaymentFactory(invoice=invoices[0], amount="100.00")
    old = PaymentFactory(invoice=invoices[1], amount="200.00", method=PaymentMethod.ETRANSFER)
    Payment.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=40))
    PaymentFactory(invoice=invoices[2], amount="300.00", method=PaymentMethod.CHEQUE)
    services.refund_create(payment=cash, amount=Decimal("25.00"), actor=Actor.system())
    Payment.objects.create(  # an abandoned card attempt: not in the ledger
        company=customer.company,
        customer=customer,
        invoice=invoices[0],
        purpose=PaymentPurpose.INVOICE,
        method=PaymentMethod.CARD,
        status=PaymentStatus.CANCELLED,
        amount=Decimal("1256.00"),
    )
    url = reverse("billing_dashboard:payment_list")

    with django_assert_max_num_queries(12):
        body = owner_client.get(url).content.decode()
    assert 'id="total-collected">$600.00' in body
    assert 'id="total-refunded">$25.00' in body and 'id="total-net">$575.00' in body
    assert "$1,256.00" not in body

    since = (timezone.localdate() - dt.timedelta(days=7)).isoformat()
    body = owner_client.get(url, {"start": since}).content.decode()
    assert 'id="total-collected">$400.00' in body
    body = owner_client.get(url, {"method": "etransfer"}).content.decode()
    assert 'id="total-collected">$200.00' in body
    body = owner_client.get(url, {"status": "refunded"}).content.decode()
    assert 'id="total-net">$75.00' in body
    body = owner_client.get(url, {"status": "cancelled"}).content.decode()
    assert "$1,256.00" in body
    fragment = owner_client.get(url, {"method": "cash"}, HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<div id="results"')

    for n in range(20):
        PaymentFactory(invoice=InvoiceFactory(customer=customer), amount="10.00")
    with django_assert_max_num_queries(12):
        owner_client.get(url)


def test_bad_filter_values_are_ignored_not_500(owner_client):
    url = reverse("billing_dashboard:payment_list")
    answer = owner_client.get(url, {"start": "yesterday", "method": "bitcoin", "page": "x"})
    assert answer.status_code == 200


def test_technicians_cannot_see_the_ledger_or_refund(client, company, customer):
    tech = MemberFactory(company=company, role=Role.TECHNICIAN)
    client.force_login(tech.user)
    payment = PaymentFactory(invoice=InvoiceFactory(customer=customer), amount="10.00")
    assert client.get(reverse("billing_dashboard:payment_list")).status_code == 403
    assert (
        client.get(reverse("billing_dashboard:refund", args=[payment.public_id])).status_code == 403
    )


# --- Invoice panel -----------------------------------------------------------------------------


def test_the_invoice_panel_shows_money_and_records_a_payment_with_htmx(
    owner_client, invoice, django_assert_max_num_queries
):
    panel = reverse("billing_dashboard:invoice_payments", args=[invoice.public_id])
    with django_assert_max_num_queries(10):
        body = owner_client.get(panel, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="billing-panel"' in body and "$1,356.00" in body and "Record a payment" in body

    new = reverse("billing_dashboard:payment_record", args=[invoice.public_id])
    form = owner_client.get(new, HTTP_HX_REQUEST="true").content.decode()
    assert 'name="amount"' in form and "Interac e-Transfer" in form

    answer = owner_client.post(
        new,
        {
            "amount": "$356.00",
            "method": "etransfer",
            "received_on": timezone.localdate().isoformat(),
            "reference": "REF9",
        },
        HTTP_HX_REQUEST="true",
    )
    body = answer.content.decode()
    assert answer.status_code == 200 and 'id="billing-balance">$1,000.00' in body
    assert "Payment recorded." in body  # toast
    assert answer["HX-Trigger"] == "billingChanged"
    assert 'id="invoice-status" hx-swap-oob="true"' in body and "Partially paid" in body
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PARTIALLY_PAID
    assert Activity.objects.filter(verb="payment.recorded").get().actor_label


def test_an_overpayment_from_the_form_shows_the_message_and_records_nothing(owner_client, invoice):
    new = reverse("billing_dashboard:payment_record", args=[invoice.public_id])
    answer = owner_client.post(
        new,
        {"amount": "2000", "method": "cash", "received_on": timezone.localdate().isoformat()},
        HTTP_HX_REQUEST="true",
    )
    assert answer.status_code == 200
    assert "more than the balance of $1,356.00" in answer.content.decode()
    assert not Payment.objects.exists()
    empty = owner_client.post(new, {}, HTTP_HX_REQUEST="true")
    assert "This field is required" in empty.content.decode()
    bad = owner_client.post(
        new,
        {"amount": "12,34.5x", "method": "cash", "received_on": timezone.localdate().isoformat()},
    )
    assert "Enter an amount like 125.50" in bad.content.decode()


def test_without_javascript_record_redirects_to_the_invoice_page(owner_client, invoice):
    new = reverse("billing_dashboard:payment_record", args=[invoice.public_id])
    assert "Record a payment" in owner_client.get(new).content.decode()
    answer = owner_client.post(
        new, {"amount": "10", "method": "cheque", "received_on": timezone.localdate().isoformat()}
    )
    assert answer.status_code == 302 and answer["Location"] == invoice.get_absolute_url()


def test_refund_from_the_panel_returns_the_panel(owner_client, invoice):
    payment = PaymentFactory(invoice=invoice, amount="1356.00")
    url = reverse("billing_dashboard:refund", args=[payment.public_id])
    form = owner_client.get(url + "?panel=invoice", HTTP_HX_REQUEST="true").content.decode()
    assert 'name="amount"' in form and 'value="1356.00"' in form
    too_much = owner_client.post(
        url, {"amount": "2000", "kind": "reversal", "panel": "invoice"}, HTTP_HX_REQUEST="true"
    )
    assert "at most $1,356.00" in too_much.content.decode()
    review = owner_client.post(
        url,
        {"amount": "56", "kind": "reversal", "reason": "Discount", "panel": "invoice"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "Balance due on INV-0001 goes from $0.00 to $56.00" in review
    assert not payment.refunds.exists()  # nothing happens before the confirmation
    intent = re.search(r'name="intent" value="([^"]+)"', review).group(1)
    answer = owner_client.post(
        url, {"intent": intent, "confirm": "1", "panel": "invoice"}, HTTP_HX_REQUEST="true"
    )
    assert 'id="billing-balance">$56.00' in answer.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PARTIALLY_PAID
    detail = owner_client.get(reverse("billing_dashboard:payment_detail", args=[payment.public_id]))
    assert "Discount" in detail.content.decode()


def test_estimate_deposit_panel_records_a_deposit(owner_client, signed_estimate):
    panel = reverse("billing_dashboard:estimate_payments", args=[signed_estimate.public_id])
    assert "$565.00" in owner_client.get(panel).content.decode()
    new = reverse("billing_dashboard:deposit_record", args=[signed_estimate.public_id])
    owner_client.post(
        new,
        {"amount": "565", "method": "cheque", "received_on": timezone.localdate().isoformat()},
        HTTP_HX_REQUEST="true",
    )
    assert Payment.objects.get().purpose == PaymentPurpose.DEPOSIT


def test_the_job_summary_shows_invoiced_paid_and_outstanding(owner_client, customer, job):
    first, second = (
        InvoiceFactory(customer=customer, job=job),
        InvoiceFactory(customer=customer, job=job),
    )
    PaymentFactory(invoice=first, amount="1356.00")
    PaymentFactory(invoice=second, amount="356.00")
    body = owner_client.get(
        reverse("billing_dashboard:job_payments", args=[job.public_id])
    ).content.decode()
    assert "$2,712.00" in body and "$1,712.00" in body and "$1,000.00" in body
    assert "Partially paid" in body
    PaymentFactory(invoice=second, amount="1000.00")
    body = owner_client.get(reverse("dashboard:job_list")).content.decode()
    assert "badge-paid" in body  # the job list reads the same rule as the job page


# --- Mismatches --------------------------------------------------------------------------------


def test_the_mismatch_list_shows_open_issues_and_resolves_them(owner_client, invoice, customer):
    card = Payment.objects.create(
        company=customer.company,
        customer=customer,
        invoice=invoice,
        purpose=PaymentPurpose.INVOICE,
        method=PaymentMethod.CARD,
        status=PaymentStatus.SUCCEEDED,
        amount=Decimal("1356.00"),
    )
    issue = PaymentIssue.objects.create(
        company=customer.company, payment=card, kind=IssueKind.OVERPAID
    )
    body = owner_client.get(reverse("billing_dashboard:issue_list")).content.decode()
    assert "Paid after the balance was already paid" in body
    assert (
        "1 payment needs your attention"
        in owner_client.get(reverse("billing_dashboard:payment_list")).content.decode()
    )
    owner_client.post(
        reverse("billing_dashboard:issue_resolve", args=[issue.public_id]),
        {"resolution": "Applied to INV-9"},
    )
    issue.refresh_from_db()
    assert issue.resolved_at and issue.resolution == "Applied to INV-9"
    assert (
        "Nothing needs your attention"
        in owner_client.get(reverse("billing_dashboard:issue_list")).content.decode()
    )


# --- Stripe connection -------------------------------------------------------------------------


def test_connecting_an_existing_account_checks_it_with_stripe(owner_client, company, stripe_on):
    account = stripe_on.add_account()
    url = reverse("billing_dashboard:stripe_link")
    bad = owner_client.post(url, {"account_id": "acct_doesnotexist"})
    assert "Stripe does not know that account" in bad.content.decode()
    owner_client.post(url, {"account_id": account["id"]})
    row = StripeAccount.objects.get(company=company)
    assert row.account_id == account["id"] and row.charges_enabled and row.is_ready
    page = owner_client.get(reverse("billing_dashboard:stripe")).content.decode()
    assert "Connected" in page
    assert Activity.objects.filter(verb="stripe.connected").exists()


def test_onboarding_through_account_links_ends_connected(
    owner_client, company, stripe_on, settings
):
    settings.SITE_URL = "http://testserver"
    answer = owner_client.get(reverse("billing_dashboard:stripe_onboard"))
    assert answer.status_code == 302 and answer["Location"].startswith(
        f"{stripe_on.url}/connect/onboard/"
    )
    row = StripeAccount.objects.get(company=company)
    assert row.account_id.startswith("acct_") and not row.charges_enabled
    created = stripe_on.last_request("/v1/accounts", "POST")
    assert created.form["type"] == "standard" and created.form["country"] == "CA"
    link = stripe_on.last_request("/v1/account_links", "POST").form
    assert link["return_url"] == "http://testserver" + reverse("billing_dashboard:stripe_return")
    # The owner finishes on Stripe's page, which sends them back.
    import requests

    done = requests.post(answer["Location"], allow_redirects=False, timeout=10)
    assert done.headers["Location"].endswith(reverse("billing_dashboard:stripe_return"))
    back = owner_client.get(reverse("billing_dashboard:stripe_return"), follow=True)
    assert "Customers can pay online" in back.content.decode()
    assert StripeAccount.objects.get(company=company).is_ready
    # Asking again reuses the account.
    owner_client.get(reverse("billing_dashboard:stripe_onboard"))
    assert len(stripe_on.requests_to("/v1/accounts", "POST")) == 1


def test_options_are_saved_and_validated(owner_client, company):
    url = reverse("billing_dashboard:stripe")
    bad = owner_client.post(url, {"allow_partial_payments": "on", "minimum_partial_amount": "0.10"})
    assert "less than $0.50" in bad.content.decode()
    owner_client.post(
        url,
        {
            "allow_partial_payments": "on",
            "minimum_partial_amount": "25",
            "refund_duplicate_payments": "on",
        },
    )
    row = StripeAccount.objects.get(company=company)
    assert row.allow_partial_payments and row.refund_duplicate_payments
    assert row.minimum_partial_amount == Decimal("25.00")


def test_disconnecting_stops_card_payments(owner_client, company, connected, invoice):
    from billing.selectors import invoice_payable

    assert invoice_payable(invoice=invoice).can_pay_online
    owner_client.post(reverse("billing_dashboard:stripe_disconnect"))
    invoice.refresh_from_db()
    assert not invoice_payable(invoice=invoice).can_pay_online


def test_only_owners_manage_the_stripe_connection(office_client):
    assert office_client.get(reverse("billing_dashboard:stripe")).status_code == 403
    assert office_client.post(reverse("billing_dashboard:stripe_disconnect")).status_code == 403


def test_the_stripe_page_says_when_the_platform_has_no_stripe(owner_client, settings):
    settings.STRIPE_SECRET_KEY = ""
    body = owner_client.get(reverse("billing_dashboard:stripe")).content.decode()
    assert "not set up on this CrewCommand installation" in body


def test_account_updated_webhooks_keep_charges_enabled_current(
    client, company, stripe_on, connected, django_capture_on_commit_callbacks
):
    event = stripe_on.build_event(
        "account.updated",
        {**stripe_on.get(connected.account_id), "charges_enabled": False},
        account=connected.account_id,
    )
    import json

    body = json.dumps(event).encode()
    # The webhook queues the event after commit; the task (inline in tests) applies it.
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(
            "/webhooks/stripe/",
            data=body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=stripe_on.sign(body, stripe_on.webhook_secret),
        )
    assert answer.status_code == 200
    assert not StripeAccount.objects.get(pk=connected.pk).charges_enabled


def test_job_lists_can_show_payment_status_in_the_same_query(
    customer, job, django_assert_num_queries
):
    from billing.selectors import job_payment_status
    from crewcommand.models import Job

    PaymentFactory(invoice=InvoiceFactory(customer=customer, job=job), amount="356.00")
    InvoiceFactory(customer=customer, job=job, sent=False)  # drafts don't count
    with django_assert_num_queries(1):
        [row] = list(job_payment_status(jobs=Job.objects.filter(pk=job.pk)))
    assert row.invoiced == Decimal("1356.00") and row.settled == Decimal("356.00")


def test_an_unapplied_duplicate_is_marked_in_the_list_and_on_its_page(owner_client, customer):
    """Issue 12, point 12: a duplicate card payment recorded but not applied looked the same as
    an applied one. It carries a "Not applied" badge with its reason; the applied one doesn't."""
    invoice = InvoiceFactory(customer=customer)
    applied = PaymentFactory(invoice=invoice, amount="100.00")
    duplicate = Payment.objects.create(
        company=customer.company,
        customer=customer,
        invoice=invoice,
        purpose=PaymentPurpose.INVOICE,
        method=PaymentMethod.CARD,
        status=PaymentStatus.SUCCEEDED,
        amount=Decimal("100.00"),
    )
    PaymentIssue.objects.create(
        company=customer.company, payment=duplicate, kind=IssueKind.OVERPAID
    )

    body = owner_client.get(reverse("billing_dashboard:payment_list")).content.decode()
    rows = re.findall(r"<tr>.*?</tr>", body, re.S)
    [marked] = [row for row in rows if "Not applied" in row]
    assert duplicate.public_id in marked and "duplicate, to refund" in marked
    assert applied.public_id not in marked

    page = owner_client.get(reverse("billing_dashboard:payment_detail", args=[duplicate.public_id]))
    assert "Not applied" in page.content.decode()
    assert "duplicate, to refund" in page.content.decode()
    page = owner_client.get(reverse("billing_dashboard:payment_detail", args=[applied.public_id]))
    assert "Not applied" not in page.content.decode()
