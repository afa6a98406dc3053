"""Issue 8, point 1: once a customer accepts non-default options, every page and document shows
the total and deposit of their choices — the contractor's dashboard included — and before
acceptance the estimate page shows one deposit, not two that disagree."""

from __future__ import annotations

import io
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from billing.models import Payment
from crewcommand.lib.activity import Actor
from crewcommand.lib.money import format_cad
from documents.models import DepositKind, Estimate, EstimateStatus, LineKind
from portal.services import link_create
from tests.factories import EstimateFactory, SignedEstimateFactory
from tests.portal.helpers import accept_data, send_data

D = Decimal
CENT = D("0.01")
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148 Safari/604.1"


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# Worked out by hand for Ontario (HST 13% on the taxable lines, the permit exempt) and a 30%
# deposit, independently of documents.tax / documents.totals.
#   Customer's picks: tankless heater (not the default tank), water softener ticked, the
#   pre-selected expansion tank unticked.
#   taxable 180.00 + 4 x 95.00 + 2,890.00 + 1,195.00 = 4,645.00; HST 603.85; + permit 120.00
CHOSEN_TAXABLE = D("180.00") + 4 * D("95.00") + D("2890.00") + D("1195.00")
CHOSEN_TOTAL = CHOSEN_TAXABLE + cents(CHOSEN_TAXABLE * D("0.13")) + D("120.00")
CHOSEN_DEPOSIT = cents(CHOSEN_TOTAL * D("0.30"))
#   Defaults: 180.00 + 380.00 + 1,450.00 + 165.00 = 2,175.00 taxable; HST 282.75; + 120.00
DEFAULT_TAXABLE = D("180.00") + 4 * D("95.00") + D("1450.00") + D("165.00")
DEFAULT_TOTAL = DEFAULT_TAXABLE + cents(DEFAULT_TAXABLE * D("0.13")) + D("120.00")
DEFAULT_DEPOSIT = cents(DEFAULT_TOTAL * D("0.30"))


def test_hand_worked_figures():
    figures = [CHOSEN_TOTAL, CHOSEN_DEPOSIT, DEFAULT_TOTAL, DEFAULT_DEPOSIT]
    assert [str(figure) for figure in figures] == ["5368.85", "1610.66", "2577.75", "773.33"]


HEATER_OPTIONS = (
    {"description": "Remove the old water heater", "unit_price": "180.00"},
    {"description": "Installation labour", "unit_price": "95.00", "quantity": "4"},
    {
        "description": "50-gallon tank",
        "unit_price": "1450.00",
        "kind": LineKind.CHOICE,
        "group": "Water heater",
    },
    {
        "description": "Tankless heater",
        "unit_price": "2890.00",
        "kind": LineKind.CHOICE,
        "group": "Water heater",
        "selected_by_default": False,
    },
    {"description": "Expansion tank", "unit_price": "165.00", "kind": LineKind.OPTIONAL},
    {
        "description": "Water softener",
        "unit_price": "1195.00",
        "kind": LineKind.OPTIONAL,
        "selected_by_default": False,
    },
    {"description": "Plumbing permit", "unit_price": "120.00", "taxable": False},
)


@pytest.fixture
def draft_with_options(customer, job, owner) -> Estimate:
    """A draft (the tests send it): the lines above and a 30 % deposit."""
    return EstimateFactory(
        customer=customer,
        job=job,
        actor=Actor.member(owner.user),
        sent=False,
        lines=HEATER_OPTIONS,
        revision={"deposit_kind": DepositKind.PERCENT, "deposit_value": "30"},
    )


def _text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode().replace("\xa0", " ")


def _pdf_text(response) -> str:
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    pages = PdfReader(io.BytesIO(response.content)).pages
    return " ".join(page.extract_text() for page in pages).replace("\xa0", " ")


def _stripe_amount(fake) -> Decimal:
    """What the fake Stripe was asked to charge by the last Checkout Session, in dollars."""
    item = fake.last_request("/v1/checkout/sessions", "POST").form["line_items"][0]
    return D(item["price_data"]["unit_amount"]) * int(item["quantity"]) / 100


def test_one_figure_everywhere_once_the_customer_accepts_non_default_options(
    owner_client,
    draft_with_options,
    job,
    connected,
    stripe_on,
):
    total, deposit = format_cad(CHOSEN_TOTAL), format_cad(CHOSEN_DEPOSIT)
    default_total, default_deposit = format_cad(DEFAULT_TOTAL), format_cad(DEFAULT_DEPOSIT)
    detail_url = reverse("documents:estimate_detail", args=[draft_with_options.public_id])
    send = reverse("documents:estimate_action", args=[draft_with_options.public_id, "send"])
    assert owner_client.post(send, send_data(draft_with_options)).status_code == 302
    draft_with_options.refresh_from_db()
    assert default_total in _text(owner_client.get(detail_url))  # before: the defaults

    # The customer signs on their phone with non-default choices, through the portal's view.
    issued = link_create(
        customer=draft_with_options.customer, actor=Actor.system(), document=draft_with_options
    )
    lines = {line.description: line for line in draft_with_options.current_revision.lines.all()}
    phone = Client(HTTP_USER_AGENT=PHONE)
    portal_url = reverse("portal:estimate", args=[issued.token, draft_with_options.public_id])
    data = accept_data(
        draft_with_options,
        **{
            "choice-1": lines["Tankless heater"].public_id,
            "optional": [lines["Water softener"].public_id],
        },
    )
    accept = reverse("portal:estimate_accept", args=[issued.token, draft_with_options.public_id])
    assert phone.post(accept, data).status_code == 302
    draft_with_options.refresh_from_db()
    assert draft_with_options.status == EstimateStatus.ACCEPTED

    whole = link_create(customer=draft_with_options.customer, actor=Actor.system())
    shown = {
        "dashboard estimate": _text(owner_client.get(detail_url)),
        "estimates list": _text(owner_client.get(reverse("documents:estimate_list"))),
        "job page": _text(owner_client.get(job.get_absolute_url())),
        "portal estimate": _text(phone.get(portal_url)),
        "portal home": _text(phone.get(reverse("portal:home", args=[whole.token]))),
        "dashboard PDF": _pdf_text(
            owner_client.get(reverse("documents:estimate_pdf", args=[draft_with_options.public_id]))
        ),
        "signed PDF": _pdf_text(
            phone.get(
                reverse("portal:estimate_pdf", args=[issued.token, draft_with_options.public_id])
            )
        ),
    }
    for place, body in shown.items():
        assert total in body, place
        assert default_total not in body, place
    detail = shown["dashboard estimate"]
    assert f"<strong>{total}</strong>" in detail  # the Totals card's total
    assert f'Deposit requested</dt><dd class="num money">{deposit}' in detail
    assert default_deposit not in detail
    assert deposit in shown["portal estimate"] and deposit in shown["signed PDF"]
    # The deposit panel (billing) asks the same deposit.
    panel = reverse("billing_dashboard:estimate_payments", args=[draft_with_options.public_id])
    assert f'Deposit asked</dt><dd class="money">{deposit}' in _text(owner_client.get(panel))

    # Stripe is asked for that deposit when the customer presses Pay deposit.
    pay_deposit = reverse(
        "billing_portal:pay_deposit", args=[issued.token, draft_with_options.public_id]
    )
    assert phone.post(pay_deposit).status_code == 303
    assert _stripe_amount(stripe_on) == CHOSEN_DEPOSIT
    Payment.objects.all().delete()  # an abandoned Checkout: the deposit stays unpaid

    # The contractor converts it; the invoice and its Checkout carry the same total.
    convert = reverse("documents:estimate_action", args=[draft_with_options.public_id, "convert"])
    assert owner_client.post(convert).status_code == 302
    invoice = draft_with_options.invoices.get()
    assert invoice.total == CHOSEN_TOTAL
    invoice_send = reverse("documents:invoice_action", args=[invoice.public_id, "send"])
    assert owner_client.post(invoice_send, send_data(invoice)).status_code == 302
    assert total in _text(owner_client.get(invoice.get_absolute_url()))
    job_page = _text(owner_client.get(job.get_absolute_url()))
    assert job_page.count(total) >= 2 and default_total not in job_page  # estimate and invoice
    portal_invoice = reverse("portal:invoice", args=[whole.token, invoice.public_id])
    assert total in _text(phone.get(portal_invoice))
    pay_invoice = reverse("billing_portal:pay_invoice", args=[whole.token, invoice.public_id])
    assert phone.post(pay_invoice).status_code == 303
    assert _stripe_amount(stripe_on) == CHOSEN_TOTAL


def test_before_acceptance_the_estimate_page_shows_one_deposit(owner_client, draft_with_options):
    """Not "Deposit requested $773.33" in the Totals card beside "Deposit asked $0.00" in the
    deposit panel: nothing is asked until the customer accepts, so the panel waits for that
    and the details card states the rule instead of a second figure."""
    send = reverse("documents:estimate_action", args=[draft_with_options.public_id, "send"])
    assert owner_client.post(send, send_data(draft_with_options)).status_code == 302
    body = _text(owner_client.get(draft_with_options.get_absolute_url()))
    default_deposit = format_cad(DEFAULT_DEPOSIT)
    assert f'Deposit requested</dt><dd class="num money">{default_deposit}' in body
    assert body.count(default_deposit) == 1
    assert 'id="payments-panel"' not in body
    assert "30% of the total" in body


def test_lists_with_accepted_estimates_keep_a_constant_query_count(
    owner_client, company, customer, owner, django_assert_max_num_queries
):

    def accepted(n):
        for _ in range(n):
            SignedEstimateFactory(customer=customer)

    accepted(2)
    url = reverse("documents:estimate_list")
    with django_assert_max_num_queries(12) as few:
        owner_client.get(url)
    accepted(10)
    with django_assert_max_num_queries(len(few.captured_queries)):
        owner_client.get(url)
