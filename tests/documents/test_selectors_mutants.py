"""The dashboard's figures (``documents.selectors``) on known rows, figure by figure, and the
portal's reads of those documents (``portal.selectors``: dead links, scope, closed documents,
shown totals, picks, the certificate, the links panel): written for the mutants the page tests
left alive (``scripts/mutation selectors``)."""

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


@pytest.fixture(autouse=True)
def _compiled_anew():
    """The home's reads are compiled once per connection (``crewcommand.lib.prepared``): forget
    them, so each test here builds them again. Otherwise only the first test of a run would
    call the functions that build them (``_summary_query``, ``_funnel_query``, ``_awaiting``)
    and mutmut, which maps tests to the functions they call, would try their mutants on that
    test alone."""
    from crewcommand.lib.prepared import Prepared

    for value in vars(selectors).values():
        if isinstance(value, Prepared):
            value._compiled.clear()


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


def test_a_filtered_or_searched_invoice_list_reads_each_customer_in_the_same_query(
    owner, customer, django_assert_num_queries
):
    # Filtered and searched lists are not the compiled first pages: their rows must still come
    # with their customers (the list shows each name), in one query for three customers.
    for name in ("Ann Roy", "Bob Roy", "Cy Roy"):
        _open(owner, CustomerFactory(company=owner.company, name=name), "10.00", due_in=5)
    for kwargs in ({"status": "sent"}, {"query": "roy"}):
        with django_assert_num_queries(1):
            rows = list(selectors.invoice_list(company=owner.company, **kwargs))
            names = [invoice.customer.name for invoice in rows]
        assert names == ["Cy Roy", "Bob Roy", "Ann Roy"], kwargs


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


# --- Portal reads (``portal.selectors``) ---------------------------------------------------------
# Kept in this file (the selectors run's list in scripts/mutation.py): a new test file there
# would make mutmut forget every result of the module.


def _expire(link):
    from portal.models import PortalLink

    PortalLink.objects.filter(pk=link.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )


def test_a_dead_link_says_revoked_or_expired_and_whether_a_fresh_link_can_reach_a_contact(
    estimate, invoice, customer, outsider, django_assert_num_queries
):
    from crewcommand.models import Contact
    from portal import selectors as portal
    from portal.models import LinkStatus
    from portal.services import link_revoke
    from tests.portal.helpers import issue

    assert portal.dead_link(link_id=None) is None
    live = issue(customer, estimate).link
    assert portal.dead_link(link_id=live.pk) is None  # usable: not dead
    assert portal.dead_link(link_id=live.pk + 10_000) is None  # unknown

    revoked = issue(customer, estimate).link
    link_revoke(link=revoked, actor=Actor.system())
    dead = portal.dead_link(link_id=revoked.pk)
    assert dead is not None
    assert (dead.state, dead.company, dead.can_refresh) == (
        LinkStatus.REVOKED,
        customer.company,
        False,  # a revoked link is never refreshed, whatever the contacts
    )

    # Expired: refreshed only while the customer has a contact with an email or a phone.
    for document in (estimate, invoice):
        expired = issue(customer, document).link
        _expire(expired)
        # One query for the link with its company and document, one for the contacts.
        with django_assert_num_queries(2):
            dead = portal.dead_link(link_id=expired.pk)
            assert dead is not None
            assert dead.company.name == customer.company.name
        assert (dead.state, dead.can_refresh) == (LinkStatus.EXPIRED, True)

    contacts = Contact.objects.filter(customer=customer)
    assert contacts.count() == 1
    contacts.update(email="", phone="416 555 0100")  # a phone alone will do
    assert portal.dead_link(link_id=expired.pk).can_refresh is True
    contacts.update(email="alice@example.com", phone="")  # an email alone too
    assert portal.dead_link(link_id=expired.pk).can_refresh is True
    contacts.update(email="", phone="")  # neither: nothing to send a fresh link to
    assert portal.dead_link(link_id=expired.pk).can_refresh is False
    contacts.update(email="alice@example.com", removed_at=timezone.now())  # removed
    assert portal.dead_link(link_id=expired.pk).can_refresh is False
    # Another customer's contact (another company's, too) does not count.
    CustomerFactory(company=customer.company, email="bob@example.com")
    CustomerFactory(company=outsider.company, email="carol@example.com")
    assert portal.dead_link(link_id=expired.pk).can_refresh is False


THERMOSTATS = (
    {
        "description": "Basic thermostat",
        "unit_price": "40.00",
        "kind": "choice",
        "group": "Thermostat",
        "selected_by_default": True,
    },
    {
        "description": "Smart thermostat",
        "unit_price": "240.00",
        "kind": "choice",
        "group": "Thermostat",
        "selected_by_default": False,
    },
)


def _portal_of(estimate):
    from portal.middleware import PortalContext
    from tests.portal.helpers import issue

    issued = issue(estimate.customer, estimate)
    return PortalContext(link=issued.link, token=issued.token)


def _query(text: str) -> dict[str, list[str]]:
    from django.http import QueryDict

    return dict(QueryDict(text).lists())


def _by_description(lines):
    return {line.description: line for line in lines}


def test_the_estimate_page_lists_lines_by_kind_groups_by_package_and_prices_the_picks(customer):
    """``estimate_context`` and the picks carried in the page's URL (``picks_query``,
    ``picks_from_query``) for an open estimate with two packages and two add-ons."""
    from django.http import QueryDict

    from documents.models import LineKind
    from portal import selectors as portal
    from tests.factories import ESTIMATE_LINES, EstimateFactory

    estimate = EstimateFactory(customer=customer, lines=ESTIMATE_LINES + THERMOSTATS)
    lines = _by_description(estimate.current_revision.lines.all())
    context = portal.estimate_context(portal=_portal_of(estimate), estimate=estimate)
    assert context["estimate"] == estimate
    assert context["revision"] == estimate.current_revision
    assert [line.description for line in context["lines"]] == [
        line["description"] for line in ESTIMATE_LINES + THERMOSTATS
    ]
    assert [line.description for line in context["included"]] == [
        "Remove and dispose of the old water heater",
        "Installation labour",
    ]
    assert [line.description for line in context["optional"]] == [
        "Expansion tank",
        "Water softener",
    ]
    assert [
        (g.name, g.field, [line.description for line in g.lines]) for g in context["groups"]
    ] == [
        ("Water heater", "choice-1", ["50-gallon tank", "Tankless heater"]),
        ("Thermostat", "choice-2", ["Basic thermostat", "Smart thermostat"]),
    ]
    assert all(line.kind == LineKind.CHOICE for g in context["groups"] for line in g.lines)
    # The defaults: 180 + 380 + 1,450 + 40 + 165 = 2,215.00; + 13 % = 2,502.95; 25 % deposit.
    assert context["totals"].total == Decimal("2502.95")
    assert context["deposit"] == Decimal("625.74")
    picked = {line.description for line in context["lines"] if line.is_picked}
    assert picked == {
        "Remove and dispose of the old water heater",
        "Installation labour",
        "50-gallon tank",
        "Basic thermostat",
        "Expansion tank",
    }
    assert (context["signature"], context["signature_image"]) == (None, "")
    assert (context["expired"], context["updating"], context["can_answer"]) == (False, False, True)

    # The defaults in the URL: both packages' picks and the add-on, marked picks=1.
    assert _query(portal.picks_query(context=context)) == _query(
        f"picks=1&choice-1={lines['50-gallon tank'].public_id}"
        f"&choice-2={lines['Basic thermostat'].public_id}"
        f"&optional={lines['Expansion tank'].public_id}"
    )

    # The customer's picks, from the URL: the tankless heater, both add-ons.
    url = QueryDict(
        f"picks=1&choice-1={lines['Tankless heater'].public_id}"
        f"&optional={lines['Expansion tank'].public_id}"
        f"&optional={lines['Water softener'].public_id}"
    )
    assert portal.picks_from_query(url) is url
    assert portal.picks_from_query(QueryDict("choice-1=x")) is None  # no picks=1: the defaults
    context = portal.estimate_context(
        portal=_portal_of(estimate), estimate=estimate, data=portal.picks_from_query(url)
    )
    # 180 + 380 + 2,890 + 40 + 165 + 1,195 = 4,850.00; + 13 % = 5,480.50
    assert context["totals"].total == Decimal("5480.50")
    assert context["deposit"] == Decimal("1370.13")
    assert _query(portal.picks_query(context=context)) == _query(
        f"picks=1&choice-1={lines['Tankless heater'].public_id}"
        f"&choice-2={lines['Basic thermostat'].public_id}"
        f"&optional={lines['Expansion tank'].public_id}"
        f"&optional={lines['Water softener'].public_id}"
    )
    # No add-on at all is a pick too, kept apart from "nothing chosen yet".
    none = QueryDict("picks=1")
    context = portal.estimate_context(portal=_portal_of(estimate), estimate=estimate, data=none)
    assert QueryDict(portal.picks_query(context=context)).getlist("optional") == []
    assert QueryDict(portal.picks_query(context=context))["picks"] == "1"


def test_the_estimate_page_of_a_draft_an_expired_and_a_signed_estimate(customer, owner):
    """Who may answer: not while the contractor edits a new version (unless previewing that
    draft), not once expired, not once signed; a signed estimate shows the signed picks and
    the signature whatever the URL says."""
    from django.http import QueryDict

    from documents.models import EstimateRevision
    from portal import selectors as portal
    from tests.factories import EstimateFactory, SignedEstimateFactory

    estimate = EstimateFactory(customer=customer)
    sent_revision = estimate.current_revision
    services.estimate_revise(estimate=estimate, actor=Actor.member(owner.user))
    estimate = Estimate.objects.select_related("current_revision").get(pk=estimate.pk)
    draft = estimate.current_revision
    assert draft != sent_revision
    assert estimate.status == EstimateStatus.DRAFT
    context = portal.estimate_context(portal=_portal_of(estimate), estimate=estimate)
    assert context["revision"] == sent_revision  # the customer still sees the sent one
    assert (context["expired"], context["updating"], context["can_answer"]) == (False, True, False)
    preview = portal.estimate_context(portal=None, estimate=estimate, draft=draft)
    assert preview["revision"] == draft
    assert (preview["updating"], preview["can_answer"]) == (False, True)

    expired = EstimateFactory(customer=customer)
    EstimateRevision.objects.filter(pk=expired.current_revision_id).update(
        valid_until=timezone.localdate() - dt.timedelta(days=1)
    )
    expired = Estimate.objects.select_related("current_revision").get(pk=expired.pk)
    context = portal.estimate_context(portal=_portal_of(expired), estimate=expired)
    assert (context["expired"], context["updating"], context["can_answer"]) == (True, False, False)

    signed = SignedEstimateFactory(customer=customer)
    signed_lines = _by_description(signed.current_revision.lines.all())
    context = portal.estimate_context(
        portal=_portal_of(signed),
        estimate=signed,
        data=QueryDict(f"picks=1&choice-1={signed_lines['Tankless heater'].public_id}"),
    )
    # Signed with no add-on (the factory's picks): 2,010.00 + 13 %, not the URL's tankless.
    assert context["totals"].total == Decimal("2271.30")
    assert context["signature"] == signed.signature
    assert context["signature_image"].startswith("data:image/svg+xml")
    assert (context["expired"], context["updating"], context["can_answer"]) == (False, False, False)


def test_the_portal_home_shows_the_latest_sent_version_of_each_estimate(customer, owner):
    """``home_context``'s totals (``_shown_total``): the newest revision sent, not a draft the
    contractor is still writing, nor an older one."""
    from portal import selectors as portal
    from portal.middleware import PortalContext
    from tests.factories import EstimateFactory, EstimateRevisionFactory
    from tests.portal.helpers import issue

    actor = Actor.member(owner.user)
    estimate = EstimateFactory(customer=customer)  # 2,457.75 with its default picks
    issued = issue(customer)
    context = PortalContext(link=issued.link, token=issued.token)

    def shown() -> Decimal:
        (row,) = portal.home_context(portal=context)["estimates"]
        return row.shown_total

    assert shown() == Decimal("2457.75")
    EstimateRevisionFactory(estimate=estimate)
    LineItemFactory(
        doc=estimate,
        actor=actor,
        quantity=Decimal("1"),
        unit_price=Decimal("100.00"),
        taxable=False,
    )
    assert shown() == Decimal("2457.75")  # the new version is a draft: the sent one shows
    estimate.refresh_from_db()
    services.estimate_send(estimate=estimate, actor=actor)
    assert shown() == Decimal("2557.75")  # the second version, sent
    EstimateRevisionFactory(estimate=estimate)
    assert shown() == Decimal("2557.75")  # a third, not sent: still the second


def test_a_link_read_for_the_dashboard_brings_its_customer_and_document(
    customer, invoice, estimate, django_assert_num_queries
):
    from portal import selectors as portal
    from tests.portal.helpers import issue

    for document in (invoice, estimate):
        issued = issue(customer, document)
        with django_assert_num_queries(1):
            link = portal.link_get(company=customer.company, public_id=issued.link.public_id)
            assert (link.customer.name, link.company.name) == (customer.name, "Maple Plumbing")
            assert link.document == document


def test_the_certificate_page_carries_the_audit_trail_and_the_hint_in_the_signed_language(
    customer,
):
    """``certificate``, ``_verify_hint`` and ``signed_language`` on a real signature, then on
    the same signature as French, legacy (no language) and unreadable snapshots."""
    import json

    from portal import selectors as portal
    from portal.models import Signature
    from tests.factories import SignedEstimateFactory

    signature = Signature.objects.get(estimate=SignedEstimateFactory(customer=customer))
    Signature.objects.filter(pk=signature.pk).update(
        contact_name="Alice T.", step_up_channel="sms", step_up_verified_at=timezone.now()
    )
    signature.refresh_from_db()
    cert = portal.certificate(signature=signature)
    english = (
        f"Signature {signature.public_id}: SHA-256 of the canonical JSON (format "
        f"crewcommand.estimate.v{signature.canonical_version}) of the signed content; the whole "
        f"record is also sealed with a keyed HMAC-SHA256 (key {signature.seal_key_id}). "
        f"Re-verify with: manage.py verify_signature {signature.public_id}"
    )
    assert signature.seal_key_id and signature.ip_address == "203.0.113.9"
    assert cert == {
        "signer_name": "Alice Tremblay",
        "signed_at": signature.signed_at,
        "ip": "203.0.113.9",
        "user_agent": "pytest",
        "link_reference": signature.link_reference,
        "consent_text": signature.consent_text,
        "selection_summary": list(signature.selection_summary),
        "sha256": signature.content_sha256,
        "revision_number": 1,
        "signature_svg": signature.image_svg,
        "language": "en-ca",
        "verify_hint": english,
        "contact_name": "Alice T.",
        "step_up_channel": "sms",
        "step_up_verified_at": signature.step_up_verified_at,
    }
    assert signature.link_reference and signature.consent_text and signature.image_svg

    # No address, no seal key: blanks and a dash, never "None".
    signature.ip_address, signature.seal_key_id = None, ""
    cert = portal.certificate(signature=signature)
    assert cert["ip"] == ""
    assert "(key -)" in cert["verify_hint"]

    # Signed in French: the hint is in French.
    content = json.loads(signature.canonical_json)
    signature.canonical_json = json.dumps({**content, "language": "fr-ca"})
    assert portal.signed_language(signature) == "fr-ca"
    assert portal.certificate(signature=signature)["language"] == "fr-ca"
    assert portal.certificate(signature=signature)["verify_hint"].startswith(
        f"Signature {signature.public_id}\xa0: SHA-256 du JSON canonique"
    )
    # Before format v3 (no language) or unreadable: English.
    signature.canonical_json = json.dumps({k: v for k, v in content.items() if k != "language"})
    assert portal.signed_language(signature) == "en-ca"
    for unreadable in ("not json", "[1, 2]", "null"):
        signature.canonical_json = unreadable
        assert portal.signed_language(signature) == "en-ca"
        assert portal.certificate(signature=signature)["verify_hint"].startswith("Signature ")


def test_the_links_panel_reads_its_subject_and_links_within_the_company(
    customer, estimate, invoice, outsider, django_assert_num_queries
):
    """``panel_subject`` and ``links_for``: each kind of subject, its own links only (newest
    first, the customer's own links without those made for one document), with what the panel
    shows of each link read in the same query; another company's subject is a 404."""
    from django.http import Http404

    from portal import selectors as portal
    from portal.models import PortalLink
    from portal.services import link_regenerate
    from tests.factories import EstimateFactory, InvoiceFactory
    from tests.portal.helpers import issue

    company = customer.company
    theirs = CustomerFactory(company=outsider.company)
    their_estimate, their_invoice = (
        EstimateFactory(customer=theirs),
        InvoiceFactory(customer=theirs),
    )
    issue(theirs), issue(theirs, their_estimate), issue(theirs, their_invoice)
    # Another estimate and invoice of the same customer, with links of their own.
    other_estimate, other_invoice = (
        EstimateFactory(customer=customer),
        InvoiceFactory(customer=customer),
    )
    issue(customer, other_estimate), issue(customer, other_invoice)
    issue(CustomerFactory(company=company))  # another customer's own link, same company

    for kind, subject in (("estimate", estimate), ("invoice", invoice), ("customer", customer)):
        first = issue(customer, None if kind == "customer" else subject).link
        second = link_regenerate(link=first, actor=Actor.system()).link  # replaces the first
        with django_assert_num_queries(1):
            found = portal.panel_subject(company=company, kind=kind, public_id=subject.public_id)
            assert found == subject
            if kind != "customer":  # a document's panel names its company and customer
                assert found.company.name == "Maple Plumbing"
                assert found.customer.name == customer.name
            if kind == "estimate":
                assert found.current_revision.number == 1
        with django_assert_num_queries(1):
            links = portal.links_for(subject=found)
            assert links[:2] == [second, first]  # newest first
            assert links[1].replaced_by.public_id == second.public_id
            for link in links:
                assert link.company.name == "Maple Plumbing"
                assert link.contact is None or link.contact.name
                assert link.document == (None if kind == "customer" else subject)
                assert link.customer_id == customer.pk
        # Made in the same instant: the newer id first.
        PortalLink.objects.filter(pk__in=[first.pk, second.pk]).update(created_at=timezone.now())
        assert portal.links_for(subject=found)[:2] == [second, first]
        # Ordered by when they were made, even where the ids say otherwise (two requests racing).
        PortalLink.objects.filter(pk=first.pk).update(
            created_at=timezone.now() + dt.timedelta(seconds=1)
        )
        assert portal.links_for(subject=found)[:2] == [first, second]
        theirs_too = {"estimate": their_estimate, "invoice": their_invoice, "customer": theirs}
        with pytest.raises(Http404):
            portal.panel_subject(company=company, kind=kind, public_id=theirs_too[kind].public_id)
    with pytest.raises(Http404):
        portal.panel_subject(company=company, kind="job", public_id=estimate.public_id)
    with pytest.raises(Http404):  # an invoice's id asked for as an estimate
        portal.panel_subject(company=company, kind="estimate", public_id=invoice.public_id)


def test_a_signature_read_for_the_dashboard_stays_in_its_company(
    customer, outsider, django_assert_num_queries
):
    from django.http import Http404

    from portal import selectors as portal
    from portal.models import Signature
    from tests.factories import SignedEstimateFactory

    signature = Signature.objects.get(estimate=SignedEstimateFactory(customer=customer))
    SignedEstimateFactory(customer=customer)  # another of the company's signatures
    with django_assert_num_queries(1):
        found = portal.signature_get(company=customer.company, public_id=signature.public_id)
        assert found == signature
        assert (found.estimate.customer.name, found.estimate.company.name) == (
            customer.name,
            "Maple Plumbing",
        )
        assert (found.revision.number, found.company.name) == (1, "Maple Plumbing")
    with pytest.raises(Http404):
        portal.signature_get(company=outsider.company, public_id=signature.public_id)


def test_the_contractor_sees_the_customers_last_five_requests_and_declines_of_that_estimate(
    customer, estimate, outsider
):
    from crewcommand.lib import activity
    from portal import selectors as portal
    from tests.factories import EstimateFactory

    other = EstimateFactory(customer=customer)
    for n in range(7):
        verb = "estimate.declined" if n == 6 else "estimate.changes_requested"
        activity.record_about(estimate, verb, Actor.system(), data={"n": str(n)})
    activity.record_about(estimate, "estimate.viewed", Actor.system())  # not a message
    activity.record_about(other, "estimate.declined", Actor.system())  # another estimate's
    # A row about this estimate filed under another company (no service writes one): not shown.
    activity.record_about(
        estimate, "estimate.declined", Actor.system(), company=outsider.company, data={"n": "x"}
    )
    # And a row about an invoice that has the estimate's id: another thing, not shown either.
    from django.contrib.contenttypes.models import ContentType

    from crewcommand.models import Activity

    Activity.objects.create(
        company=customer.company,
        actor_kind="system",
        verb="estimate.declined",
        target_type=ContentType.objects.get_for_model(Invoice),
        target_id=estimate.pk,
        data={"n": "y"},
    )
    messages = portal.customer_messages(subject=estimate)
    assert [(m.verb, m.data["n"]) for m in messages] == [
        ("estimate.declined", "6"),
        ("estimate.changes_requested", "5"),
        ("estimate.changes_requested", "4"),
        ("estimate.changes_requested", "3"),
        ("estimate.changes_requested", "2"),
    ]
    assert [m.verb for m in portal.customer_messages(subject=other)] == ["estimate.declined"]


def _context(customer, document=None):
    from portal.middleware import PortalContext
    from tests.portal.helpers import issue

    issued = issue(customer, document)
    return PortalContext(link=issued.link, token=issued.token)


def test_a_customer_link_shows_sent_documents_until_they_have_been_closed_for_a_while(customer):
    """``portal_estimates``, ``portal_invoices`` and ``_closed_cutoff`` for a link to all of a
    customer's documents: drafts never; declined estimates and paid or voided invoices until
    ``portal_closed_link_days`` after they closed, or while the contractor keeps the link open."""
    from crewcommand.models import Company
    from portal import selectors as portal
    from portal.models import PortalLink
    from tests.factories import EstimateFactory, InvoiceFactory

    now = timezone.now()
    long_ago, lately = now - dt.timedelta(days=31), now - dt.timedelta(days=29)
    Company.objects.filter(pk=customer.company_id).update(portal_closed_link_days=30)
    customer.company.refresh_from_db()

    def estimate(**fields):
        made = EstimateFactory(customer=customer)
        Estimate.objects.filter(pk=made.pk).update(**fields)
        return made

    def invoice(**fields):
        made = InvoiceFactory(customer=customer)
        Invoice.objects.filter(pk=made.pk).update(**fields)
        return made

    open_estimate = estimate()
    draft_estimate = EstimateFactory(customer=customer, sent=False)
    declined_lately = estimate(status=EstimateStatus.DECLINED, decided_at=lately)
    declined_long_ago = estimate(status=EstimateStatus.DECLINED, decided_at=long_ago)
    accepted_long_ago = estimate(status=EstimateStatus.ACCEPTED, decided_at=long_ago)
    open_invoice = invoice()
    draft_invoice = InvoiceFactory(customer=customer, sent=False)
    paid_lately = invoice(status=InvoiceStatus.PAID, paid_at=lately)
    paid_long_ago = invoice(status=InvoiceStatus.PAID, paid_at=long_ago)
    void_lately = invoice(status=InvoiceStatus.VOID, voided_at=lately)
    void_long_ago = invoice(status=InvoiceStatus.VOID, voided_at=long_ago)
    # Paid long ago but voided lately (and the reverse): the status says which date counts.
    void_paid_long_ago = invoice(status=InvoiceStatus.VOID, voided_at=lately, paid_at=long_ago)
    paid_void_long_ago = invoice(status=InvoiceStatus.PAID, paid_at=lately, voided_at=long_ago)
    assert draft_estimate.sent_at is None and draft_invoice.status == InvoiceStatus.DRAFT
    # Another customer of the same company: none of theirs.
    neighbour = CustomerFactory(company=customer.company)
    EstimateFactory(customer=neighbour), InvoiceFactory(customer=neighbour)

    context = _context(customer)
    shown_now = {open_estimate, declined_lately, accepted_long_ago}
    assert set(portal.portal_estimates(portal=context)) == shown_now
    kept = {open_invoice, paid_lately, void_lately, void_paid_long_ago, paid_void_long_ago}
    assert set(portal.portal_invoices(portal=context)) == kept

    # The contractor kept this link open a while longer: nothing has expired from it.
    PortalLink.objects.filter(pk=context.link.pk).update(keep_until=now + dt.timedelta(days=1))
    context.link.refresh_from_db()
    everything = shown_now | {declined_long_ago}
    assert set(portal.portal_estimates(portal=context)) == everything
    assert set(portal.portal_invoices(portal=context)) == kept | {paid_long_ago, void_long_ago}
    # Kept until a moment now past: expired again.
    PortalLink.objects.filter(pk=context.link.pk).update(keep_until=now - dt.timedelta(hours=1))
    context.link.refresh_from_db()
    assert set(portal.portal_estimates(portal=context)) == shown_now
    # A company that keeps closed documents: nothing expires.
    Company.objects.filter(pk=customer.company_id).update(portal_closed_link_days=None)
    customer.company.refresh_from_db()
    context = _context(customer)
    assert set(portal.portal_estimates(portal=context)) == everything
    assert set(portal.portal_invoices(portal=context)) == kept | {paid_long_ago, void_long_ago}


def test_a_link_to_one_document_reaches_that_document_only(customer, outsider):
    """``portal_estimates``/``portal_invoices`` and ``estimate_get``/``invoice_get`` for links
    to one document, and for rows filed under another company than their customer's."""
    from django.http import Http404

    from portal import selectors as portal
    from tests.factories import EstimateFactory, InvoiceFactory

    estimate, other_estimate = (
        EstimateFactory(customer=customer),
        EstimateFactory(customer=customer),
    )
    invoice, other_invoice = InvoiceFactory(customer=customer), InvoiceFactory(customer=customer)

    scoped = _context(customer, estimate)
    assert list(portal.portal_estimates(portal=scoped)) == [estimate]
    assert list(portal.portal_invoices(portal=scoped)) == []
    assert portal.estimate_get(portal=scoped, public_id=estimate.public_id) == estimate
    for public_id in (other_estimate.public_id, invoice.public_id):
        with pytest.raises(Http404):
            portal.estimate_get(portal=scoped, public_id=public_id)
    with pytest.raises(Http404):
        portal.invoice_get(portal=scoped, public_id=invoice.public_id)

    scoped = _context(customer, invoice)
    assert list(portal.portal_invoices(portal=scoped)) == [invoice]
    assert list(portal.portal_estimates(portal=scoped)) == []
    assert portal.invoice_get(portal=scoped, public_id=invoice.public_id) == invoice
    for public_id in (other_invoice.public_id, estimate.public_id):
        with pytest.raises(Http404):
            portal.invoice_get(portal=scoped, public_id=public_id)
    with pytest.raises(Http404):
        portal.estimate_get(portal=scoped, public_id=estimate.public_id)

    # Rows whose company is not their customer's (which no service writes) never show.
    everything = _context(customer)
    Estimate.objects.filter(pk=other_estimate.pk).update(company=outsider.company)
    Invoice.objects.filter(pk=other_invoice.pk).update(company=outsider.company)
    assert set(portal.portal_estimates(portal=everything)) == {estimate}
    assert set(portal.portal_invoices(portal=everything)) == {invoice}
    with pytest.raises(Http404):
        portal.estimate_get(portal=everything, public_id=other_estimate.public_id)
    with pytest.raises(Http404):
        portal.invoice_get(portal=everything, public_id=other_invoice.public_id)


def test_the_portal_home_prices_the_sent_version_at_its_own_date_while_a_draft_waits(
    customer, owner
):
    """``_shown_total`` prices the revision it shows, with that revision's province and date:
    a version sent in Nova Scotia at 15 % keeps its total while the contractor drafts the next
    one after the 2025-04-01 change to 14 %."""
    from documents.models import EstimateRevision
    from portal import selectors as portal
    from tests.factories import EstimateFactory, EstimateRevisionFactory

    estimate = EstimateFactory(customer=customer)
    EstimateRevision.objects.filter(pk=estimate.current_revision_id).update(
        province="NS", issue_date=dt.date(2025, 3, 28)
    )
    context = _context(customer)

    def shown() -> Decimal:
        (row,) = portal.home_context(portal=context)["estimates"]
        return row.shown_total

    assert shown() == Decimal("2501.25")  # 2,175.00 + 15 %
    draft = EstimateRevisionFactory(estimate=estimate)  # dated today: 14 % in Nova Scotia
    assert (draft.province, draft.issue_date) == ("NS", timezone.localdate())
    assert shown() == Decimal("2501.25")


def test_a_link_to_one_document_opens_it_without_a_query_unless_it_is_not_shown(
    customer, django_assert_num_queries
):
    """``estimate_get``/``invoice_get`` take the document the middleware brought with the link
    (no query), but only while it is sent (an estimate) or not a draft (an invoice)."""
    from django.http import Http404

    from portal import selectors as portal
    from portal.middleware import PortalContext
    from portal.models import PortalLink
    from tests.factories import EstimateFactory, InvoiceFactory

    estimate, invoice = EstimateFactory(customer=customer), InvoiceFactory(customer=customer)
    links = {}
    for document, get in ((estimate, portal.estimate_get), (invoice, portal.invoice_get)):
        context = _context(customer, document)
        links[document] = context.link.pk
        assert context.link.company and context.link.customer  # as the middleware reads them
        with django_assert_num_queries(0):
            assert get(portal=context, public_id=document.public_id) == document

    # Unsent since (no service does it, but the rule is the page's): a 404, not the row.
    Estimate.objects.filter(pk=estimate.pk).update(sent_at=None)
    Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.DRAFT)
    for document, get in ((estimate, portal.estimate_get), (invoice, portal.invoice_get)):
        link = PortalLink.objects.select_related("company", "customer", "estimate", "invoice").get(
            pk=links[document]
        )
        with pytest.raises(Http404):
            get(portal=PortalContext(link=link, token=""), public_id=document.public_id)


def test_an_estimate_found_through_a_customer_link_comes_with_what_its_page_reads(
    customer, django_assert_num_queries
):
    from portal import selectors as portal
    from tests.factories import SignedEstimateFactory

    signed = SignedEstimateFactory(customer=customer)
    context = _context(customer)
    assert context.link.company and context.link.customer  # as the middleware reads them
    with django_assert_num_queries(1):
        found = portal.estimate_get(portal=context, public_id=signed.public_id)
        assert found == signed
        assert (found.company.name, found.customer.name) == ("Maple Plumbing", customer.name)
        assert found.current_revision.number == found.accepted_revision.number == 1
        assert found.signature.signer_name == "Alice Tremblay"


def test_an_invoice_found_through_a_customer_link_comes_with_its_company_and_customer(
    customer, django_assert_num_queries
):
    from portal import selectors as portal
    from tests.factories import InvoiceFactory

    context = _context(customer)
    assert context.link.company and context.link.customer  # as the middleware reads them
    invoice = InvoiceFactory(customer=customer)
    with django_assert_num_queries(1):
        found = portal.invoice_get(portal=context, public_id=invoice.public_id)
        assert found == invoice
        assert (found.company.name, found.customer.name) == ("Maple Plumbing", customer.name)


def test_the_links_panel_shows_the_latest_hundred_links(customer):
    from portal import selectors as portal
    from tests.portal.helpers import issue

    for _ in range(101):
        issue(customer)
    assert len(portal.links_for(subject=customer)) == 100


# --- The documents pages' own reads (``documents.selectors``): gets, revisions, packages, the
# job's documents and the invoice list's pages compiled once ------------------------------------


def test_an_estimate_and_an_invoice_come_with_what_their_pages_read_in_one_query(
    owner, customer, outsider, django_assert_num_queries
):
    from django.http import Http404

    from tests.factories import EstimateFactory, InvoiceFactory, JobFactory

    job = JobFactory(customer=customer, title="Heat pump")
    estimate = EstimateFactory(customer=customer, job=job)
    Estimate.objects.filter(pk=estimate.pk).update(accepted_revision=estimate.current_revision)
    invoice = InvoiceFactory(customer=customer, job=job)
    Invoice.objects.filter(pk=invoice.pk).update(estimate=estimate)
    company = owner.company

    with django_assert_num_queries(1):
        got = selectors.estimate_get(company=company, public_id=estimate.public_id)
        seen = (
            got.customer.name,
            got.job.title,
            got.current_revision.number,
            got.accepted_revision.number,
            got.company.name,
        )
    assert seen == ("Alice Tremblay", "Heat pump", 1, 1, "Maple Plumbing")
    with django_assert_num_queries(1):
        got = selectors.invoice_get(company=company, public_id=invoice.public_id)
        seen = (got.customer.name, got.job.title, got.estimate.number, got.company.name)
    assert seen == ("Alice Tremblay", "Heat pump", estimate.number, "Maple Plumbing")
    for get, doc in ((selectors.estimate_get, estimate), (selectors.invoice_get, invoice)):
        with pytest.raises(Http404):
            get(company=outsider.company, public_id=doc.public_id)


def test_a_revision_is_read_by_its_number_within_its_estimate(owner, customer):
    from django.http import Http404

    from tests.factories import EstimateFactory, EstimateRevisionFactory

    revised = EstimateFactory(customer=customer)
    second = EstimateRevisionFactory(estimate=revised)
    single = EstimateFactory(customer=customer)

    assert selectors.revision_get(estimate=revised, number=1) == revised.revisions.get(number=1)
    assert selectors.revision_get(estimate=revised, number=2) == second
    assert selectors.revision_get(estimate=single, number=1) == single.current_revision
    with pytest.raises(Http404):  # revision 2 is the other estimate's
        selectors.revision_get(estimate=single, number=2)


def test_the_line_editor_offers_the_revisions_packages_in_the_order_they_first_appear(
    owner, customer
):
    from documents.models import LineItem, LineKind

    actor = Actor.member(owner.user)
    estimate = services.estimate_create(company=owner.company, customer=customer, actor=actor)
    other = services.estimate_create(company=owner.company, customer=customer, actor=actor)

    def line(doc, group, kind=LineKind.CHOICE):
        return LineItemFactory(doc=doc, actor=actor, kind=kind, group=group)

    windows = line(estimate, "Windows")
    doors = line(estimate, "Doors")
    windows_again = line(estimate, "Windows")
    extra = line(estimate, "", kind=LineKind.OPTIONAL)
    line(other, "Roof")
    siding = line(estimate, "Siding")  # added last, moved to the top
    LineItem.objects.filter(pk=extra.pk).update(group="Add-ons")  # not a package option
    for row, position in ((siding, 0), (windows, 1), (doors, 1), (windows_again, 2), (extra, 0)):
        LineItem.objects.filter(pk=row.pk).update(position=position)
    # Windows and Doors share a position: the first added comes first, wherever PostgreSQL
    # keeps the rows (Windows rewritten last).
    LineItem.objects.filter(pk=windows.pk).update(position=1)
    revision_id = Estimate.objects.get(pk=estimate.pk).current_revision_id

    assert selectors.package_names(revision_id=revision_id) == ["Siding", "Windows", "Doors"]


def test_the_job_page_lists_the_jobs_own_estimates_and_invoices_with_their_totals(
    owner, customer, django_assert_num_queries
):
    from tests.factories import EstimateFactory, InvoiceFactory, JobFactory

    job = JobFactory(customer=customer)
    other_job = JobFactory(customer=customer)
    estimates = [EstimateFactory(customer=customer, job=job) for _ in range(4)]
    invoice = InvoiceFactory(customer=customer, job=job)
    EstimateFactory(customer=customer, job=other_job)
    InvoiceFactory(customer=customer, job=other_job)
    EstimateFactory(customer=customer)  # no job
    for signed in estimates[2:]:  # two accepted, two still open
        Estimate.objects.filter(pk=signed.pk).update(
            status=EstimateStatus.ACCEPTED, accepted_revision=signed.current_revision
        )

    # The estimates with their current and accepted revisions, their lines, the invoices.
    with django_assert_num_queries(4):
        found = selectors.documents_for_job(job=job)
        totals = sorted(e.figures.total for e in found["estimates"])
    assert sorted(e.pk for e in found["estimates"]) == sorted(e.pk for e in estimates)
    assert [i.pk for i in found["invoices"]] == [invoice.pk]
    assert totals == sorted(Estimate.objects.get(pk=e.pk).figures.total for e in estimates)


def test_the_invoice_lists_first_pages_are_compiled_once_and_other_windows_read_the_queryset(
    owner, outsider, monkeypatch, django_assert_num_queries
):
    from crewcommand.lib.listing import PAGE_SIZE
    from tests.factories import sent_invoices_in_bulk

    count = 2 * PAGE_SIZE + 7
    for member, n_rows in ((owner, count), (outsider, 30)):
        theirs = CustomerFactory(company=member.company, name=f"{member.company.name} client")
        sent_invoices_in_bulk(theirs, n_rows)
    monkeypatch.setattr(selectors, "_invoice_pages", {})
    compiled = selectors._invoice_pages
    pages = selectors.InvoicePages(owner.company)
    newest_first = list(range(count, 0, -1))

    def numbers(window):
        return [row.number for row in pages[window]]

    assert pages.count() == count
    # The pages the list's paginator asks for: compiled once each, the customer with each row.
    with django_assert_num_queries(1):
        assert [row.customer.name for row in pages[0:PAGE_SIZE]] == ["Maple Plumbing client"] * 25
    first = compiled[0]
    assert numbers(slice(0, PAGE_SIZE)) == newest_first[:PAGE_SIZE]
    assert compiled[0] is first  # not compiled again
    assert numbers(slice(PAGE_SIZE, 2 * PAGE_SIZE)) == newest_first[PAGE_SIZE : 2 * PAGE_SIZE]
    last = slice(2 * PAGE_SIZE, 2 * PAGE_SIZE + 7)  # what the paginator asks for page 3
    assert numbers(last) == newest_first[2 * PAGE_SIZE :]
    # A short window at the start of a page is cut to the window.
    assert numbers(slice(PAGE_SIZE, PAGE_SIZE + 5)) == newest_first[PAGE_SIZE : PAGE_SIZE + 5]
    assert numbers(slice(3 * PAGE_SIZE, 3 * PAGE_SIZE + 1)) == []
    assert sorted(compiled) == [0, PAGE_SIZE, 2 * PAGE_SIZE, 3 * PAGE_SIZE]

    # Any other window reads the queryset (nothing more compiled), with the same answer.
    limit = PAGE_SIZE * selectors._PREPARED_PAGES
    for window in (
        slice(3, 9),  # not at a page's start
        slice(0, 100),  # more than a page
        slice(PAGE_SIZE, None),  # to the end
        slice(0, PAGE_SIZE, 2),  # every other row
        slice(limit, limit + PAGE_SIZE),  # past the pages compiled
        slice(5 * PAGE_SIZE, 5 * PAGE_SIZE),  # an empty window
    ):
        assert numbers(window) == newest_first[window], window
    assert sorted(compiled) == [0, PAGE_SIZE, 2 * PAGE_SIZE, 3 * PAGE_SIZE]


def test_attention_prices_each_awaited_estimate_from_its_own_lines_without_more_queries(
    owner, customer, outsider, django_assert_num_queries
):
    actor = Actor.member(owner.user)
    now = timezone.now()

    def awaited(days_ago, *prices):
        estimate = services.estimate_create(company=owner.company, customer=customer, actor=actor)
        for price in prices:
            LineItemFactory(
                doc=estimate,
                actor=actor,
                quantity=Decimal("2"),
                unit_price=Decimal(price),
                taxable=False,
            )
        Estimate.objects.filter(pk=estimate.pk).update(
            status=EstimateStatus.SENT, sent_at=now - dt.timedelta(days=days_ago)
        )
        return estimate

    awaited(3, "100.00", "25.50")
    awaited(2)  # nothing on it yet
    awaited(1, "40.00")

    with django_assert_num_queries(4):  # the first eight, their lines, the count, overdue
        attention = selectors.attention(company=owner.company)
    with django_assert_num_queries(0):
        totals = [estimate.figures.total for estimate in attention["awaiting"]]
    assert totals == [Decimal("251.00"), Decimal("0.00"), Decimal("80.00")]

    # Nothing awaited: the lines are not asked for.
    _invoice(outsider, CustomerFactory(company=outsider.company), "10.00")
    with django_assert_num_queries(3):
        theirs = selectors.attention(company=outsider.company)
    assert theirs["awaiting"] == [] and theirs["awaiting_count"] == 0


def test_the_home_figures_compiled_on_one_day_count_with_the_next_days_date(
    owner, customer, monkeypatch
):
    """A server process compiles the home's reads once and keeps them past midnight: the date
    they compare with is each call's own, not the one they were compiled on."""
    from django.utils import timezone as django_timezone

    _open(owner, customer, "100.00", due_in=1)  # due tomorrow
    now = timezone.now()
    _estimate(owner, customer, status=EstimateStatus.SENT, sent_at=now)
    estimate = Estimate.objects.get(company=owner.company)
    estimate.current_revision.valid_until = timezone.localdate()
    estimate.current_revision.save(update_fields=["valid_until"])
    company = owner.company

    before = selectors.invoice_summary(company=company)
    assert (before["overdue"], before["overdue_count"]) == (Decimal("0.00"), 0)
    waiting = selectors.attention(company=company)
    assert (len(waiting["awaiting"]), waiting["awaiting_count"]) == (1, 1)

    later = now + dt.timedelta(days=3)
    monkeypatch.setattr(django_timezone, "now", lambda: later)
    after = selectors.invoice_summary(company=company)
    assert after == {
        "outstanding": Decimal("100.00"),
        "overdue": Decimal("100.00"),
        "overdue_count": 1,
    }
    expired = selectors.attention(company=company)
    assert (expired["awaiting"], expired["awaiting_count"]) == ([], 0)


def test_a_void_or_draft_invoice_past_its_due_date_is_not_overdue(owner, customer):
    _open(owner, customer, "100.00", due_in=-5, status=InvoiceStatus.VOID)
    _open(owner, customer, "200.00", due_in=-5, status=InvoiceStatus.DRAFT)
    late = _open(owner, customer, "50.00", due_in=-5)
    company = owner.company

    assert _numbers(selectors.invoice_list(company=company, status="overdue")) == _numbers([late])
    assert _numbers(selectors.attention(company=company)["overdue"]) == _numbers([late])
    assert selectors.invoice_summary(company=company)["overdue"] == Decimal("50.00")


def test_the_estimate_page_reads_the_lines_of_the_version_shown_and_nothing_else(
    customer, django_assert_num_queries
):
    """``estimate_context`` (and ``shown_revision``) on estimates as ``estimate_get`` brings
    them: one query, the lines; the revision, its signature and the signed picks come along."""
    from portal import selectors as portal
    from tests.factories import EstimateFactory, SignedEstimateFactory

    open_estimate = EstimateFactory(customer=customer)
    signed = SignedEstimateFactory(customer=customer)
    context = _context(customer)
    # Open: the defaults, 2,175.00 + 13 %; signed: the factory's picks (no add-on), 2,010.00 + 13 %.
    for estimate, total in ((open_estimate, "2457.75"), (signed, "2271.30")):
        found = portal.estimate_get(portal=context, public_id=estimate.public_id)
        with django_assert_num_queries(1):
            page = portal.estimate_context(portal=context, estimate=found)
            assert page["revision"].pk == estimate.current_revision_id
            assert page["totals"].total == Decimal(total)
            assert len(page["lines"]) == 6


def test_while_a_third_version_is_drafted_the_customer_sees_the_second_not_the_first(
    customer, owner
):
    """``shown_revision`` falls back to the newest sent version, by number, when the current
    one is a draft."""
    from portal import selectors as portal
    from tests.factories import EstimateFactory, EstimateRevisionFactory

    actor = Actor.member(owner.user)
    estimate = EstimateFactory(customer=customer)  # version 1: 2,457.75
    EstimateRevisionFactory(estimate=estimate)
    LineItemFactory(
        doc=estimate,
        actor=actor,
        quantity=Decimal("1"),
        unit_price=Decimal("100.00"),
        taxable=False,
    )
    estimate.refresh_from_db()
    services.estimate_send(estimate=estimate, actor=actor)  # version 2: 2,557.75
    EstimateRevisionFactory(estimate=estimate)  # version 3, a draft
    context = _context(customer)
    found = portal.estimate_get(portal=context, public_id=estimate.public_id)
    assert (found.status, found.current_revision.number) == (EstimateStatus.DRAFT, 3)
    assert portal.shown_revision(found).number == 2
    page = portal.estimate_context(portal=context, estimate=found)
    assert page["revision"].number == 2
    assert page["totals"].total == Decimal("2557.75")
    assert (page["updating"], page["can_answer"]) == (True, False)


def test_the_invoice_page_reads_the_lines_once_and_totals_them(customer, django_assert_num_queries):
    from portal import selectors as portal
    from tests.factories import InvoiceFactory

    invoice = InvoiceFactory(customer=customer)
    found = portal.invoice_get(portal=_context(customer), public_id=invoice.public_id)
    with django_assert_num_queries(1):
        page = portal.invoice_context(invoice=found)
        assert page["invoice"] == invoice
        assert [line.description for line in page["lines"]] == ["Water heater"]
        assert page["totals"].total == Decimal("1356.00")  # 1,200.00 + 13 % HST


def _pdf_text(content: bytes) -> str:
    import io

    from pypdf import PdfReader

    pages = PdfReader(io.BytesIO(content)).pages
    return "\n".join(page.extract_text() for page in pages).replace("\xa0", " ")


def _signed_and_renamed(customer, owner):
    """A signed estimate (no add-on: 2,271.30), its customer renamed since."""
    from crewcommand import services as crew
    from portal.models import Signature
    from tests.factories import SignedEstimateFactory

    signature = Signature.objects.get(estimate=SignedEstimateFactory(customer=customer))
    crew.customer_update(
        customer=customer, actor=Actor.member(owner.user), fields={"name": "Bob Forger"}
    )
    return signature


def _signed_pdf(signature) -> str:
    from portal import selectors as portal
    from portal.models import Signature

    return _pdf_text(portal.signed_estimate_pdf(signature=Signature.objects.get(pk=signature.pk)))


def test_the_signed_pdf_of_a_v2_or_v3_signature_is_the_snapshot_with_its_certificate(
    customer, owner, caplog
):
    """``signed_estimate_pdf`` renders a snapshot (format 2 on) as signed, whatever the live
    customer is called now, with the certificate page, and logs nothing."""
    import json
    import logging

    from portal import canonical
    from portal import seal as signature_seal
    from portal.models import Signature

    signature = _signed_and_renamed(customer, owner)
    caplog.set_level(logging.WARNING, logger="portal.selectors")
    v3 = _signed_pdf(signature)
    assert "Alice Tremblay" in v3 and "Bob Forger" not in v3
    assert "$2,271.30" in v3
    assert signature.content_sha256 in v3.replace("\n", "")
    assert "Certificate of electronic signature" in v3

    # The same signature stored as format 2 (before languages): still the snapshot.
    content = json.loads(signature.canonical_json)
    del content["language"]
    content["format"] = "crewcommand.estimate.v2"
    old = canonical.serialize(content)
    signature.canonical_version, signature.canonical_json = 2, old
    signature.content_sha256 = canonical.sha256_hex(old)
    signature.seal_key_id, signature.seal = signature_seal.seal(signature)
    signature.save()
    v2 = _signed_pdf(signature)
    assert "Alice Tremblay" in v2 and "Bob Forger" not in v2
    assert "$2,271.30" in v2
    assert signature.content_sha256 in v2.replace("\n", "")
    assert [r for r in caplog.records if r.name == "portal.selectors"] == []
    assert Signature.objects.get(pk=signature.pk).canonical_version == 2


def test_an_unreadable_snapshot_gives_the_revision_with_the_signed_picks_and_a_warning(
    customer, owner, caplog
):
    """The fallback of ``signed_estimate_pdf``: the stored revision with the signed picks (not
    the defaults, 2,457.75), the live customer, the certificate, and a warning naming the row."""
    import logging

    from portal.models import Signature

    signature = _signed_and_renamed(customer, owner)
    Signature.objects.filter(pk=signature.pk).update(canonical_json="not json")
    caplog.set_level(logging.WARNING, logger="portal.selectors")
    text = _signed_pdf(signature)
    assert "Bob Forger" in text
    assert "$2,271.30" in text and "$2,457.75" not in text
    assert signature.content_sha256 in text.replace("\n", "")
    assert [r.getMessage() for r in caplog.records if r.name == "portal.selectors"] == [
        f"signature {signature.pk}: unreadable snapshot, rendered from the revision"
    ]


def test_links_made_in_the_same_instant_are_listed_newest_id_first(customer, estimate):
    """``links_for``'s second key: links stamped with the same ``created_at`` (one request
    making several, or a clock that does not move) come newest id first, every time."""
    from portal import selectors as portal
    from portal.models import PortalLink
    from tests.portal.helpers import issue

    for subject in (customer, estimate):
        made = [issue(customer, None if subject is customer else subject).link for _ in range(8)]
        PortalLink.objects.filter(pk__in=[link.pk for link in made]).update(
            created_at=timezone.now()
        )
        listed = [link.pk for link in portal.links_for(subject=subject)]
        assert listed[:8] == sorted((link.pk for link in made), reverse=True)


def test_an_unreadable_snapshot_still_shows_the_package_and_add_on_the_customer_signed_for(
    customer,
):
    """The fallback of ``signed_estimate_pdf`` reads the signed selection: the tankless heater
    and the water softener, 180 + 380 + 2,890 + 1,195 = 4,645.00 + 13 % = 5,248.85, not the
    2,271.30 of no selection at all."""
    from documents.totals import Selection
    from portal import services as portal_services
    from portal.models import Signature
    from tests.factories import CONSENT_TEXT, EstimateFactory, typed_svg
    from tests.portal.helpers import issue

    estimate = EstimateFactory(customer=customer)
    lines = _by_description(estimate.current_revision.lines.all())
    signature = portal_services.estimate_accept(
        estimate=estimate,
        link=issue(customer, estimate).link,
        revision_number=1,
        selection=Selection(
            optional=frozenset({lines["Water softener"].public_id}),
            choices={"Water heater": lines["Tankless heater"].public_id},
        ),
        signature=portal_services.SignatureIn(
            signer_name="Alice Tremblay",
            method="typed",
            image_svg=typed_svg("Alice Tremblay"),
            consent_text=str(CONSENT_TEXT),
        ),
        ip="203.0.113.9",
        user_agent="pytest",
    )
    Signature.objects.filter(pk=signature.pk).update(canonical_json="not json")
    text = _signed_pdf(signature)
    assert "$5,248.85" in text and "$2,271.30" not in text
