"""What the document emails say (issue 12, point 8): a revised estimate is called a new version,
an invoice email gives the amount due, the due date and a Pay button, the "accepted" notice names
the signer once and gives the accepted total, and a payment recorded by hand emails nobody at
the company about their own entry."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from crewcommand.lib.activity import Actor
from crewcommand.lib.money import format_cad
from documents import services as documents_services
from documents.models import Estimate
from portal import services
from tests.factories import EstimateFactory, InvoiceFactory
from tests.portal.helpers import accept_data

pytestmark = pytest.mark.django_db


def _html(message) -> str:
    [(html, kind)] = message.alternatives
    assert kind == "text/html"
    return html


def test_a_revised_estimate_is_sent_as_a_new_version(customer, django_capture_on_commit_callbacks):
    actor = Actor.system()
    estimate = EstimateFactory(customer=customer, actor=actor, sent=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.estimate_deliver(estimate=estimate, actor=actor)
    (first,) = mail.outbox
    assert "version" not in first.subject.lower() and "version" not in first.body.lower()

    documents_services.estimate_revise(estimate=estimate, actor=actor)
    estimate = Estimate.objects.select_related("current_revision").get(pk=estimate.pk)
    assert estimate.current_revision.number == 2
    with django_capture_on_commit_callbacks(execute=True):
        services.estimate_deliver(estimate=estimate, actor=actor)
    revised = mail.outbox[-1]
    number = estimate.display_number
    assert revised.subject == f"New version of your estimate {number} from {customer.company.name}"
    assert f"revised estimate {number}: this is version 2" in revised.body
    assert "replaces the one sent before" in revised.body
    html = _html(revised)
    assert "this is version 2" in html and "Review the new version" in html


def test_the_invoice_email_gives_the_amount_due_the_due_date_and_a_pay_button(
    customer, django_capture_on_commit_callbacks
):
    actor = Actor.system()
    invoice = InvoiceFactory(customer=customer, actor=actor, sent=False)
    assert invoice.balance > 0 and invoice.due_date
    with django_capture_on_commit_callbacks(execute=True):
        services.invoice_deliver(invoice=invoice, actor=actor)
    (message,) = mail.outbox
    due, date = format_cad(invoice.balance), date_format(invoice.due_date, "DATE_FORMAT")
    assert due in message.subject
    assert f"Amount due: {due}" in message.body and f"Due date: {date}" in message.body
    url = re.search(r"https?://\S+/p/\S+/", message.body).group(0)
    html = _html(message)
    assert f"Amount due: <strong>{due}</strong>" in html and f"Due date: {date}" in html
    button = re.search(r'<a class="button" href="([^"]+)">([^<]+)</a>', html)
    assert button.groups() == (url, f"Pay {due}")


def test_the_accepted_notice_names_the_signer_once_and_gives_the_total(
    phone, estimate, estimate_link, django_capture_on_commit_callbacks
):
    assert estimate.customer.name == "Alice Tremblay"
    url = reverse("portal:estimate_accept", args=[estimate_link.token, estimate.public_id])
    with django_capture_on_commit_callbacks(execute=True):
        phone.post(url, accept_data(estimate))
    estimate.refresh_from_db()
    total = format_cad(estimate.figures.total)
    (notice,) = mail.outbox
    number = estimate.display_number
    assert notice.subject == f"Alice Tremblay accepted estimate {number} ({total})"
    assert f"Alice Tremblay accepted and signed estimate {number}." in notice.body
    assert notice.body.count("Alice Tremblay") == 1
    assert f"Accepted total, with the options chosen: {total}" in notice.body
    html = _html(notice)
    assert html.count("Alice Tremblay") == 1 and f"<strong>{total}</strong>" in html


def test_the_accepted_notice_names_the_customer_when_someone_else_signs(
    phone, estimate, estimate_link, django_capture_on_commit_callbacks
):
    url = reverse("portal:estimate_accept", args=[estimate_link.token, estimate.public_id])
    with django_capture_on_commit_callbacks(execute=True):
        phone.post(url, accept_data(estimate, signer_name="Bob Tremblay"))
    (notice,) = mail.outbox
    assert (
        f"Bob Tremblay accepted and signed estimate {estimate.display_number} for Alice Tremblay."
        in notice.body
    )


def test_a_cheque_recorded_by_hand_emails_the_customer_only(
    owner_client, invoice, django_capture_on_commit_callbacks
):
    assert invoice.company.email and invoice.customer.email
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(
            reverse("billing_dashboard:payment_record", args=[invoice.public_id]),
            {
                "amount": "100.00",
                "method": "cheque",
                "received_on": timezone.localdate().isoformat(),
                "reference": "CHQ 512",
            },
        )
    assert [m.to for m in mail.outbox] == [[invoice.customer.email]]
