"""The dashboard's figures (``documents.selectors``) on known rows, figure by figure: written
for the mutants the page tests left alive (``scripts/mutation selectors``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from crewcommand.lib.activity import Actor
from documents import selectors, services
from documents.models import Estimate, EstimateStatus, Invoice, InvoiceStatus
from tests.documents.conftest import add_line
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _estimate(owner, customer, **fields) -> Estimate:
    actor = Actor.member(owner.user)
    estimate = services.estimate_create(company=owner.company, customer=customer, actor=actor)
    Estimate.objects.filter(pk=estimate.pk).update(**fields)
    return Estimate.objects.get(pk=estimate.pk)


def _invoice(owner, customer, amount="100.00", **fields) -> Invoice:
    """A sent invoice for ``amount`` (no tax), then ``fields`` written as they stand."""
    actor = Actor.member(owner.user)
    invoice = services.invoice_create(company=owner.company, customer=customer, actor=actor)
    add_line(invoice, actor, quantity=Decimal("1"), unit_price=Decimal(amount), taxable=False)
    services.invoice_send(invoice=invoice, actor=actor)
    Invoice.objects.filter(pk=invoice.pk).update(**fields)
    return Invoice.objects.get(pk=invoice.pk)


def test_the_funnel_counts_estimates_sent_in_the_last_30_days_and_how_far_they_got(
    owner, customer, outsider
):
    now = timezone.now()
    recent = now - dt.timedelta(days=29)
    sent = EstimateStatus.SENT
    _estimate(owner, customer, status=sent, sent_at=recent)  # sent only
    _estimate(owner, customer, status=EstimateStatus.VIEWED, sent_at=recent, viewed_at=now)
    # Accepted without a recorded view (signed from the email's PDF link): viewed all the same.
    accepted = _estimate(owner, customer, status=EstimateStatus.ACCEPTED, sent_at=recent)
    paid = _estimate(owner, customer, status=EstimateStatus.ACCEPTED, sent_at=recent, viewed_at=now)
    _invoice(owner, customer, estimate=paid, status=InvoiceStatus.PAID)
    _invoice(owner, customer, estimate=accepted, status=InvoiceStatus.SENT)  # not paid yet
    # Sent a little over 30 days ago, and another company's: not counted.
    _estimate(owner, customer, status=sent, sent_at=now - dt.timedelta(days=30, hours=1))
    _estimate(outsider, CustomerFactory(company=outsider.company), status=sent, sent_at=recent)

    assert selectors.funnel(company=owner.company) == [
        ("Sent", 4),
        ("Viewed", 3),
        ("Accepted", 2),
        ("Paid", 1),
    ]
    assert selectors.funnel(company=owner.company, days=31)[0] == ("Sent", 5)


def test_money_by_week_splits_eight_weeks_of_invoicing_into_collected_and_outstanding(
    owner, customer, outsider
):
    today = timezone.localdate()
    this_monday = today - dt.timedelta(days=today.weekday())
    first_monday = this_monday - dt.timedelta(weeks=7)

    theirs = CustomerFactory(company=outsider.company)

    def on(day, amount, paid="0.00", credit="0.00", status=InvoiceStatus.SENT, who=owner):
        return _invoice(
            who,
            customer if who == owner else theirs,
            amount,
            issue_date=day,
            due_date=day,
            amount_paid=Decimal(paid),
            deposit_credit=Decimal(credit),
            status=status,
        )

    on(today, "100.00", paid="30.00", credit="20.00")  # 50 collected, 50 outstanding
    on(this_monday, "10.00")  # same week: 10 more outstanding
    on(first_monday, "40.00", paid="40.00", status=InvoiceStatus.PAID)  # oldest week shown
    on(first_monday + dt.timedelta(weeks=2), "25.00", paid="30.00")  # overpaid: none owing
    on(first_monday - dt.timedelta(days=1), "999.00")  # the week before: not shown
    on(today, "500.00", status=InvoiceStatus.VOID)  # void: not invoiced
    on(today, "700.00", who=outsider)  # another company's
    draft = services.invoice_create(
        company=owner.company, customer=customer, actor=Actor.member(owner.user)
    )
    add_line(draft, Actor.member(owner.user), unit_price=Decimal("300.00"))  # a draft: not yet

    zero = Decimal("0.00")
    expected = [
        {"week": first_monday + dt.timedelta(weeks=i), "collected": zero, "outstanding": zero}
        for i in range(8)
    ]
    expected[0].update(collected=Decimal("40.00"))
    expected[2].update(collected=Decimal("25.00"))
    expected[7].update(collected=Decimal("50.00"), outstanding=Decimal("60.00"))
    assert selectors.money_by_week(company=owner.company) == expected
    four = selectors.money_by_week(company=owner.company, weeks=4)
    assert [row["week"] for row in four] == [
        this_monday - dt.timedelta(weeks=3 - i) for i in range(4)
    ]
    assert four[-1]["outstanding"] == Decimal("60.00")
