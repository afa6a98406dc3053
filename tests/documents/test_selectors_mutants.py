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
from tests.factories import CustomerFactory, LineItemFactory

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
    LineItemFactory(
        doc=invoice, actor=actor, quantity=Decimal("1"), unit_price=Decimal(amount), taxable=False
    )
    services.invoice_send(invoice=invoice, actor=actor)
    Invoice.objects.filter(pk=invoice.pk).update(**fields)
    return Invoice.objects.get(pk=invoice.pk)


def test_the_funnel_counts_estimates_sent_in_the_last_30_days_and_how_far_they_got(
    owner, customer, outsider
):
    now = timezone.now()
    recent = now - dt.timedelta(days=29)
    sent = EstimateStatus.SENT
    _estimate(owner, customer, status=sent, sent_at=recent)  # sent only, twice
    _estimate(owner, customer, status=sent, sent_at=recent)
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
        ("Sent", 5),
        ("Viewed", 3),
        ("Accepted", 2),
        ("Paid", 1),
    ]
    assert selectors.funnel(company=owner.company, days=31)[0] == ("Sent", 6)


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
    LineItemFactory(
        doc=draft, actor=Actor.member(owner.user), unit_price=Decimal("300.00")
    )  # a draft: not yet

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


def _numbers(rows) -> list[str]:
    return [row.display_number for row in rows]


def _open(owner, customer, amount, *, due_in, paid="0.00", credit="0.00", status=None):
    today = timezone.localdate()
    return _invoice(
        owner,
        customer,
        amount,
        issue_date=today - dt.timedelta(days=60),
        due_date=today + dt.timedelta(days=due_in),
        amount_paid=Decimal(paid),
        deposit_credit=Decimal(credit),
        status=status or InvoiceStatus.SENT,
    )


def test_the_invoice_list_and_summary_tell_overdue_from_open_by_status(owner, customer):
    sent_overdue = _open(owner, customer, "100.00", due_in=-1)  # INV-0001
    viewed_overdue = _open(
        owner, customer, "200.00", due_in=-30, paid="50.00", credit="25.00", status="viewed"
    )  # INV-0002: 125.00 left
    due_today = _open(owner, customer, "40.00", due_in=0)  # INV-0003: not overdue yet
    part_paid = _open(owner, customer, "80.00", due_in=5, paid="30.00", status="partially_paid")
    settled_late = _open(owner, customer, "60.00", due_in=-3, paid="40.00", credit="20.00")
    paid = _open(owner, customer, "70.00", due_in=-3, paid="70.00", status="paid")
    company = owner.company

    assert selectors.invoice_summary(company=company) == {
        "outstanding": Decimal("100.00") + Decimal("125.00") + Decimal("40.00") + Decimal("50.00"),
        "overdue": Decimal("225.00"),
        "overdue_count": 2,
    }
    listed = {
        status: _numbers(selectors.invoice_list(company=company, status=status))
        for status in ("overdue", "sent", "viewed", "partially_paid", "paid", "", "bogus")
    }
    assert listed["overdue"] == _numbers([viewed_overdue, sent_overdue])
    assert listed["sent"] == _numbers([settled_late, due_today])
    assert listed["viewed"] == []
    assert listed["partially_paid"] == _numbers([part_paid])
    assert listed["paid"] == _numbers([paid])
    everything = _numbers([paid, settled_late, part_paid, due_today, viewed_overdue, sent_overdue])
    assert listed[""] == everything and listed["bogus"] == everything

    attention = selectors.attention(company=company)
    assert _numbers(attention["overdue"]) == _numbers([viewed_overdue, sent_overdue])


def test_the_summary_is_zero_without_open_invoices_and_leaves_drafts_and_voids_out(
    owner, customer, outsider
):
    """A new company's dashboard reads $0.00 (not blank), and money nobody has been asked for
    yet (a draft) or no longer owes (a void invoice) is neither outstanding nor overdue."""
    company = owner.company
    empty = selectors.invoice_summary(company=company)
    assert empty == {"outstanding": Decimal("0.00"), "overdue": Decimal("0.00"), "overdue_count": 0}
    assert [str(empty["outstanding"]), str(empty["overdue"])] == ["0.00", "0.00"]

    overdue_due = {"due_in": -10}
    _open(owner, customer, "300.00", status=InvoiceStatus.DRAFT, **overdue_due)
    _open(owner, customer, "400.00", status=InvoiceStatus.VOID, **overdue_due)
    _open(outsider, CustomerFactory(company=outsider.company), "500.00", **overdue_due)
    assert selectors.invoice_summary(company=company) == empty

    _open(owner, customer, "90.00", **overdue_due)
    _open(owner, customer, "35.00", due_in=3)
    assert selectors.invoice_summary(company=company) == {
        "outstanding": Decimal("125.00"),
        "overdue": Decimal("90.00"),
        "overdue_count": 1,
    }


def test_the_invoice_list_finds_an_invoice_by_number_or_customer(owner, customer):
    first = _open(owner, customer, "10.00", due_in=1)
    for _ in range(10):
        _open(owner, customer, "10.00", due_in=1)
    other = _open(owner, CustomerFactory(company=owner.company, name="Zed Roy"), "9.00", due_in=1)
    company = owner.company
    for query in ("INV-0001", "inv 1", "#1", "1", "  inv-#001 "):
        found = selectors.invoice_list(company=company, query=query)
        assert _numbers(found) == [first.display_number], query
    assert _numbers(selectors.invoice_list(company=company, query="zed")) == ["INV-0012"]
    assert other.display_number == "INV-0012"
    assert selectors.invoice_list(company=company, query="   ").count() == 12


def test_the_estimate_list_and_attention_tell_expired_estimates_from_live_ones(owner, customer):
    today = timezone.localdate()
    now = timezone.now()

    def estimate(status, valid_until, sent_days_ago):
        made = _estimate(owner, customer, status=status, sent_at=now - dt.timedelta(sent_days_ago))
        made.current_revision.valid_until = valid_until
        made.current_revision.save(update_fields=["valid_until"])
        return made

    sent_live = estimate("sent", today, 3)  # valid through today
    viewed_live = estimate("viewed", None, 5)  # no end date
    sent_expired = estimate("sent", today - dt.timedelta(days=1), 9)
    viewed_expired = estimate("viewed", today - dt.timedelta(days=1), 8)
    accepted_old = estimate("accepted", today - dt.timedelta(days=1), 7)  # signed: not expired
    draft = estimate("draft", None, 1)
    company = owner.company

    def listed(status):
        return _numbers(selectors.estimate_list(company=company, status=status))

    assert listed("expired") == _numbers([viewed_expired, sent_expired])
    assert listed("sent") == _numbers([sent_live])
    assert listed("viewed") == _numbers([viewed_live])
    assert listed("accepted") == _numbers([accepted_old])
    assert listed("draft") == _numbers([draft])
    assert len(listed("")) == len(listed("nonsense")) == 6

    attention = selectors.attention(company=company)
    assert _numbers(attention["awaiting"]) == _numbers([viewed_live, sent_live])  # oldest first
    assert attention["awaiting_count"] == 2


def test_attention_shows_the_first_eight_and_counts_them_all(owner, customer):
    now = timezone.now()
    for days in range(10):
        _estimate(owner, customer, status="sent", sent_at=now - dt.timedelta(days=days))
        _open(owner, customer, "10.00", due_in=-1 - days)
    attention = selectors.attention(company=owner.company)
    assert attention["awaiting_count"] == 10
    assert _numbers(attention["awaiting"]) == [f"EST-{n:04d}" for n in range(10, 2, -1)]
    assert _numbers(attention["overdue"]) == [f"INV-{n:04d}" for n in range(10, 2, -1)]


def test_the_estimate_list_finds_an_estimate_by_number_or_customer(owner, customer):
    first = _estimate(owner, customer)
    _estimate(owner, customer)
    other = _estimate(owner, CustomerFactory(company=owner.company, name="Zed Roy"))
    company = owner.company
    assert _numbers(selectors.estimate_list(company=company, query="EST-0001")) == _numbers([first])
    assert _numbers(selectors.estimate_list(company=company, query="zed")) == _numbers([other])


def test_a_number_in_the_search_box_also_finds_customers_named_with_it(owner, customer):
    for _ in range(3):
        _open(owner, customer, "10.00", due_in=1)
    suite = _open(owner, CustomerFactory(company=owner.company, name="Suite 2 Ltd"), "9.", due_in=1)
    found = selectors.invoice_list(company=owner.company, query="2")
    assert sorted(_numbers(found)) == ["INV-0002", suite.display_number]


def test_attention_reads_each_customer_with_its_row(owner, customer, django_assert_num_queries):
    now = timezone.now()
    for days in range(3):
        _estimate(owner, customer, status="sent", sent_at=now - dt.timedelta(days=days))
        _open(owner, customer, "10.00", due_in=-1 - days)
    attention = selectors.attention(company=owner.company)
    with django_assert_num_queries(0):
        names = [row.customer.name for row in attention["awaiting"] + attention["overdue"]]
    assert names == ["Alice Tremblay"] * 6
