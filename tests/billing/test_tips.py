"""Tips on the portal pay page: optional, presets and a custom amount, their own Stripe line,
recorded apart from the invoice's total, taxes and balance, on the receipt, and in the tips
report."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from billing import services
from billing.models import Payment, PaymentStatus
from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from documents.models import Invoice, InvoiceStatus
from portal.services import link_create
from tests.billing.conftest import return_urls

pytestmark = pytest.mark.django_db


@pytest.fixture
def tipping(connected):
    connected.tips_enabled = True
    connected.save()
    return connected


def _pay_url(invoice):
    issued = link_create(customer=invoice.customer, actor=Actor.system(), document=invoice)
    return issued, reverse("billing_portal:pay_invoice", args=[issued.token, invoice.public_id])


def test_a_15_percent_tip_is_its_own_line_and_never_touches_the_invoice(invoice, tipping, hooks):
    before = Invoice.objects.filter(pk=invoice.pk).values("total", "tax_total").get()
    _issued, url = _pay_url(invoice)
    client = Client()
    page = client.get(url).content.decode()
    assert 'id="tip-field"' in page and "15 %" in page and "$203.40" in page  # 15 % of 1,356
    answer = client.post(url, {"tip": "15"})
    assert answer.status_code == 303
    payment = Payment.objects.get()
    assert payment.amount == Decimal("1356.00") and payment.tip_amount == Decimal("203.40")
    items = hooks.line_items(payment.stripe_session_id)
    assert [i["amount_total"] for i in items] == [135600, 20340]
    assert items[1]["description"].startswith("Tip for ")

    mail.outbox.clear()
    hooks.complete_session(payment.stripe_session_id)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED and payment.applied
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert invoice.status == InvoiceStatus.PAID and invoice.balance == 0
    assert invoice.amount_paid == Decimal("1356.00")
    assert Invoice.objects.filter(pk=invoice.pk).values("total", "tax_total").get() == before
    receipt = next(m for m in mail.outbox if m.to == [invoice.customer.email])
    assert "Tip (voluntary, not part of the invoice): $203.40" in receipt.body
    assert "Total charged: $1,559.40" in receipt.body


def test_a_custom_tip_and_bad_tips_get_a_clear_message(invoice, tipping, stripe_on):
    _issued, url = _pay_url(invoice)
    client = Client()
    for data, message in (
        ({"tip": "custom"}, "Enter the tip"),
        ({"tip": "custom", "tip_custom": "abc"}, ""),
        ({"tip": "custom", "tip_custom": "5000"}, "at most"),
        ({"tip": "42"}, "Choose a tip from the list."),
    ):
        answer = client.post(url, data)
        assert answer.status_code == 200, data
        assert message in answer.content.decode()
    assert not Payment.objects.exists()
    assert client.post(url, {"tip": "custom", "tip_custom": "25.50"}).status_code == 303
    payment = Payment.objects.get()
    assert payment.tip_amount == Decimal("25.50") and payment.amount == Decimal("1356.00")


def test_no_tip_is_the_default_and_tips_off_means_no_tip(invoice, connected, stripe_on):
    _issued, url = _pay_url(invoice)
    page = Client().get(url).content.decode()
    assert 'id="tip-field"' not in page
    Client().post(url, {"tip": "20"})
    assert Payment.objects.get().tip_amount == 0  # the company does not take tips
    with pytest.raises(ServiceError, match="doesn't take tips"):
        services.checkout_start(
            document=invoice,
            amount=None,
            return_urls=return_urls,
            pay_again=True,
            tip=Decimal("5.00"),
        )


def test_the_tips_report_lists_tips_apart(invoice, tipping, hooks, owner_client, office_client):
    _issued, url = _pay_url(invoice)
    Client().post(url, {"tip": "10"})
    hooks.complete_session(Payment.objects.get().stripe_session_id)
    page = owner_client.get(reverse("billing_dashboard:tips")).content.decode()
    assert "$135.60" in page and invoice.display_number in page
    listing = owner_client.get(reverse("billing_dashboard:payment_list")).content.decode()
    assert 'id="total-collected">$1,356.00' in listing  # collected on invoices, tips apart
    bad = owner_client.get(reverse("billing_dashboard:tips"), {"start": "not-a-date"})
    assert bad.status_code == 200


def test_a_preset_tip_is_rounded_half_up_to_the_cent():
    from billing.forms import tip_for

    assert tip_for(Decimal("1.50"), 15) == Decimal("0.23")  # 0.225: half up, not half even
    assert tip_for(Decimal("1356.00"), 15) == Decimal("203.40")
    assert tip_for(Decimal("0.01"), 10) == Decimal("0.00")
