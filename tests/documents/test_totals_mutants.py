"""Rules of ``documents/totals.py`` that ``scripts/mutation totals`` showed no test held:
deposits (fixed ones included), which options count, the document limit, and which revision and
selection an estimate's figures are read with. Expected amounts are worked out by hand.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from documents.models import DepositKind, EstimateStatus, LineItem, LineKind
from documents.tax import TaxLine, Totals
from documents.totals import (
    MAX_DOCUMENT_TOTAL,
    Selection,
    default_selection,
    deposit_amount,
    estimate_figures,
    exceeds_limit,
    is_selected,
    line_tax_note,
    selected_lines,
    tax_split_note,
    validate_selection,
)
from tests.factories import FURNACE_LINES, EstimateFactory, InvoiceFactory

DAY = dt.date(2026, 6, 1)


def line(pid, kind=LineKind.STANDARD, *, group="", default=True, price="100.00", taxable=True):
    return LineItem(
        public_id=pid,
        kind=kind,
        group=group,
        selected_by_default=default,
        quantity=Decimal("1"),
        unit_price=Decimal(price),
        taxable=taxable,
        description=pid,
    )


LINES = [
    line("std"),
    line("opt_on", LineKind.OPTIONAL),
    line("opt_off", LineKind.OPTIONAL, default=False),
    line("tank_a", LineKind.CHOICE, group="tank", default=False),
    line("tank_b", LineKind.CHOICE, group="tank", default=True),
    line("pipe_a", LineKind.CHOICE, group="pipe", default=False),
    line("pipe_b", LineKind.CHOICE, group="pipe", default=False),
]


class TestSelection:
    def test_defaults(self):
        # A group's default is the option marked so, else its first option.
        assert default_selection(LINES) == Selection(
            optional=frozenset({"opt_on"}), choices={"tank": "tank_b", "pipe": "pipe_a"}
        )

    def test_validation_keeps_real_picks_and_repairs_the_rest(self):
        picked = Selection(
            optional=frozenset({"opt_off", "std", "tank_a", "ghost"}),
            choices={"tank": "tank_a", "pipe": "tank_b", "ghost": "x"},
        )
        assert validate_selection(LINES, picked) == Selection(
            optional=frozenset({"opt_off"}), choices={"tank": "tank_a", "pipe": "pipe_a"}
        )
        # A group left out, or an option that is not a choice line, falls back to the default.
        assert validate_selection(LINES, Selection(choices={"tank": "opt_on"})).choices == {
            "tank": "tank_b",
            "pipe": "pipe_a",
        }

    def test_which_lines_count(self):
        chosen = Selection(optional=frozenset({"opt_off"}), choices={"tank": "tank_a"})
        names = [item.public_id for item in selected_lines(LINES, chosen)]
        assert names == ["std", "opt_off", "tank_a"]
        assert [item.public_id for item in selected_lines(LINES, None)] == [
            "std",
            "opt_on",
            "tank_b",
            "pipe_a",
        ]
        assert is_selected(LINES[0], Selection()) is True

    def test_json_round_trip(self):
        selection = Selection(optional=frozenset({"b", "a"}), choices={"z": "1", "y": "2"})
        assert selection.as_json() == {"optional": ["a", "b"], "choices": {"y": "2", "z": "1"}}
        assert Selection.from_json(selection.as_json()) == selection
        assert Selection.from_json(None) == Selection()
        assert Selection.from_json({"choices": None}) == Selection()
        assert Selection.from_json({"optional": [5], "choices": {1: 2}}) == Selection(
            optional=frozenset({"5"}), choices={"1": "2"}
        )


class TestLimit:
    def test_the_limit_is_the_total_of_every_charged_line(self):
        top = line("top", price=str(MAX_DOCUMENT_TOTAL), taxable=False)
        assert exceeds_limit([top], province="AB", on=DAY) is False
        cent = line("cent", price="0.01", taxable=False)
        assert exceeds_limit([top, cent], province="AB", on=DAY) is True
        # A discount may not bring an over-the-limit set of options back under it.
        discount = line("discount", price="-5.00", taxable=False)
        assert exceeds_limit([top, cent, discount], province="AB", on=DAY) is True

    def test_tax_counts_towards_the_limit(self):
        # 95,238,095.23 + 5 % GST (4,761,904.76) = 99,999,999.99: at the limit, not over it.
        at = line("at", price="95238095.23")
        assert exceeds_limit([at], province="AB", on=DAY) is False
        over = line("over", price="95238095.24")
        assert exceeds_limit([over], province="AB", on=DAY) is True


@pytest.mark.django_db
class TestDepositsAndFigures:
    def test_percent_deposit_rounds_half_up(self, customer):
        revision = EstimateFactory(customer=customer).current_revision
        revision.deposit_kind, revision.deposit_value = DepositKind.PERCENT, Decimal("25.00")
        assert deposit_amount(revision, Decimal("2457.75")) == Decimal("614.44")  # 614.4375
        assert deposit_amount(revision, Decimal("0.02")) == Decimal("0.01")  # 0.005 -> 0.01
        revision.deposit_value = Decimal("150.00")
        assert deposit_amount(revision, Decimal("200.00")) == Decimal("200.00")  # capped

    def test_fixed_deposit_is_the_amount_capped_at_the_total(self, customer):
        revision = EstimateFactory(customer=customer).current_revision
        revision.deposit_kind, revision.deposit_value = DepositKind.FIXED, Decimal("500.00")
        assert deposit_amount(revision, Decimal("2457.75")) == Decimal("500.00")
        assert deposit_amount(revision, Decimal("300.00")) == Decimal("300.00")

    def test_no_deposit(self, customer):
        revision = EstimateFactory(customer=customer).current_revision
        revision.deposit_kind, revision.deposit_value = DepositKind.NONE, Decimal("25.00")
        assert str(deposit_amount(revision, Decimal("2457.75"))) == "0.00"

    def test_figures_before_and_after_acceptance(self, customer):
        estimate = EstimateFactory(customer=customer)
        revision = estimate.current_revision
        lines = list(revision.lines.all())
        figures = estimate_figures(estimate)
        # ON 13 %: defaults 180 + 380 + 1450 + 165 = 2175.00 -> 2457.75, deposit 614.44.
        assert (figures.total, figures.deposit, figures.chosen) == (
            Decimal("2457.75"),
            Decimal("614.44"),
            False,
        )
        # Accepted with the tankless heater and without the expansion tank:
        # 180 + 380 + 2890 = 3450.00 -> 3898.50, deposit 974.625 -> 974.63.
        estimate.status = EstimateStatus.ACCEPTED
        estimate.accepted_revision = revision
        estimate.accepted_selection = {
            "optional": [],
            "choices": {"Water heater": lines[3].public_id},
        }
        estimate.save()
        figures = estimate_figures(estimate)
        assert (figures.total, figures.deposit, figures.chosen) == (
            Decimal("3898.50"),
            Decimal("974.63"),
            True,
        )
        assert figures.revision == revision
        assert figures.totals.total == figures.total

    def test_an_estimate_without_a_revision_is_an_error(self, customer):
        estimate = EstimateFactory(customer=customer)
        estimate.current_revision = None
        with pytest.raises(ValueError, match="has no revision"):
            estimate_figures(estimate)


@pytest.mark.django_db
class TestWhichRevisionAndLines:
    def _accepted(self, customer):
        estimate = EstimateFactory(customer=customer)
        revision = estimate.current_revision
        lines = list(revision.lines.all())
        estimate.status = EstimateStatus.ACCEPTED
        estimate.accepted_revision = revision
        estimate.accepted_selection = {
            "optional": [],
            "choices": {"Water heater": lines[3].public_id},
        }
        estimate.save()
        return estimate, revision, lines

    def test_invoice_totals_read_the_invoice_lines(self, customer):
        from documents.totals import invoice_totals

        invoice = InvoiceFactory(customer=customer, lines=FURNACE_LINES)
        # 149.00 + 2 x 34.50 = 218.00; ON HST 13 % = 28.34; total 246.34.
        totals = invoice_totals(invoice)
        assert (totals.subtotal, totals.tax_total, totals.total) == (
            Decimal("218.00"),
            Decimal("28.34"),
            Decimal("246.34"),
        )

    def test_prefetched_lines_cost_no_query(self, customer, django_assert_num_queries):
        from documents.totals import invoice_totals, revision_totals

        estimate, revision, lines = self._accepted(customer)
        invoice = InvoiceFactory(customer=customer, lines=FURNACE_LINES)
        invoice_lines = list(invoice.lines.all())
        with django_assert_num_queries(0):
            assert invoice_totals(invoice, invoice_lines).total == Decimal("246.34")
            assert revision_totals(revision, None, lines=lines).total == Decimal("2457.75")
            figures = estimate_figures(estimate, revision, lines=lines)
        assert figures.total == Decimal("3898.50")

    def test_the_accepted_revision_is_read_after_a_newer_one_exists(self, customer):
        from documents.models import EstimateRevision

        estimate, accepted, lines = self._accepted(customer)
        newer = EstimateRevision.objects.create(
            estimate=estimate,
            number=2,
            province=accepted.province,
            deposit_kind=DepositKind.NONE,
            deposit_value=Decimal("0"),
        )
        estimate.current_revision = newer
        estimate.save()
        figures = estimate_figures(estimate)
        assert figures.revision == accepted
        assert figures.chosen is True
        assert figures.selection == Selection(choices={"Water heater": lines[3].public_id})
        assert figures.total == Decimal("3898.50")
        # Another revision of an accepted estimate is read with its own defaults.
        other = estimate_figures(estimate, newer)
        assert other.chosen is False
        assert other.revision == newer
        assert other.total == Decimal("0.00")

    def test_an_estimate_that_is_no_longer_accepted_is_read_with_defaults(self, customer):
        estimate, _revision, lines = self._accepted(customer)
        estimate.status = EstimateStatus.SENT  # acceptance withdrawn; the old pointer remains
        estimate.save()
        figures = estimate_figures(estimate)
        assert figures.chosen is False
        assert figures.selection == default_selection(lines)
        assert figures.total == Decimal("2457.75")


# --- line_tax_note and tax_split_note (seventh session): what a line and a split tax say ---


@pytest.mark.parametrize(
    ("taxable", "parts", "province", "english", "french"),
    [
        (False, "all", "ON", "Tax exempt", "Exonéré de taxes"),
        (False, "federal", "BC", "Tax exempt", "Exonéré de taxes"),
        (True, "all", "BC", "", ""),
        (True, "federal", "BC", "GST only", "TPS seulement"),
        (True, "provincial", "BC", "PST only", "TVP seulement"),
        (True, "provincial", "QC", "QST only", "TVQ seulement"),
        (True, "provincial", "MB", "RST only", "TVD seulement"),
        # No provincial tax in Ontario (HST) or Alberta (GST alone): nothing applies.
        (True, "provincial", "ON", "No tax applies", "Aucune taxe ne s\u2019applique"),
        (True, "provincial", "AB", "No tax applies", "Aucune taxe ne s\u2019applique"),
        # The one tax of the province is every tax: nothing to say.
        (True, "federal", "ON", "", ""),
        (True, "federal", "AB", "", ""),
    ],
)
def test_a_lines_tax_note_in_both_languages(taxable, parts, province, english, french):
    with translation.override("en"):
        assert line_tax_note(taxable, parts, province) == english
    with translation.override("fr-ca"):
        assert line_tax_note(taxable, parts, province) == french


def _split_totals():
    paid = dt.date(2025, 3, 28)
    deposit = TaxLine("HST", "HST", Decimal("15"), Decimal("250.00"), Decimal("37.50"), paid)
    rest = TaxLine("HST", "HST", Decimal("14"), Decimal("750.00"), Decimal("105.00"))
    other = TaxLine("PST", "PST", Decimal("7"), Decimal("1000.00"), Decimal("70.00"))
    totals = Totals(
        (Decimal("1000.00"),),
        Decimal("1000.00"),
        Decimal("1000.00"),
        (deposit, rest, other),
        Decimal("212.50"),
        Decimal("1212.50"),
    )
    return deposit, rest, other, totals


def test_a_split_tax_names_the_deposits_part_and_the_rest_and_no_other_tax():
    deposit, rest, other, totals = _split_totals()
    with translation.override("en"):
        assert tax_split_note(deposit, totals) == (
            "on $250.00 covered by the deposit paid March 28, 2025"
        )
        assert tax_split_note(rest, totals) == "on the other $750.00"
        # Another tax on the same document is not split because the HST is.
        assert tax_split_note(other, totals) == ""
    with translation.override("fr-ca"):
        assert tax_split_note(deposit, totals) == (
            "sur 250,00\u00a0$ couverts par l\u2019acompte payé le 28 mars 2025"
        )
        assert tax_split_note(rest, totals) == "sur les autres 750,00\u00a0$"


def test_a_split_taxs_amounts_follow_the_locale_given_not_the_active_one():
    deposit, rest, _other, totals = _split_totals()
    with translation.override("en"):
        assert tax_split_note(deposit, totals, "fr-CA").startswith("on 250,00\u00a0$ covered")
        assert tax_split_note(rest, totals, "fr-CA") == "on the other 750,00\u00a0$"


def test_no_split_no_note():
    gst = TaxLine("GST", "GST", Decimal("5"), Decimal("1000.00"), Decimal("50.00"))
    totals = Totals(
        (Decimal("1000.00"),),
        Decimal("1000.00"),
        Decimal("1000.00"),
        (gst,),
        Decimal("50.00"),
        Decimal("1050.00"),
    )
    with translation.override("en"):
        assert tax_split_note(gst, totals) == ""
