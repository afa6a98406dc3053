"""Rate-table rules of ``documents/tax.py`` that ``scripts/mutation tax`` showed no test held.

Whoever edits ``documents/tax_rates.json`` (a rate change, a new province) must be told which
row and which field is wrong, and the table's checks must hold at their edges: a rate below 1 %,
a one-day rate, GST and HST meeting on one day, rows in any order. No database.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from documents.tax import LineIn, TaxRate, compute_totals, load_rates, rates_for


def rate(**overrides) -> TaxRate:
    fields = {
        "province": "ON",
        "code": "HST",
        "label": "HST",
        "rate": Decimal("13.000"),
        "effective_from": date(2010, 7, 1),
        "effective_to": None,
    }
    fields.update(overrides)
    return TaxRate(**fields)


def row(province, code, value, start, end, label=None):
    return {
        "province": province,
        "code": code,
        "rate": value,
        "effective_from": start,
        "effective_to": end,
        "label": code if label is None else label,
    }


def table(tmp_path: Path, rows) -> tuple[TaxRate, ...]:
    path = tmp_path / "rates.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    return load_rates(path)


class TestRateRow:
    def test_a_label_is_required(self):
        with pytest.raises(ValueError, match=r"^a tax rate needs a label$"):
            rate(label="")

    def test_the_rate_must_be_a_decimal_and_is_named(self):
        with pytest.raises(TypeError, match=r"^rate is a float"):
            rate(rate=13.0)

    def test_rates_between_0_and_100_exclusive(self):
        assert rate(rate=Decimal("0.5")).rate == Decimal("0.5")
        assert rate(rate=Decimal("99.999")).rate == Decimal("99.999")
        for bad in ("100", "0", "-5"):
            with pytest.raises(ValueError, match=r"percentage in \(0, 100\)"):
                rate(rate=Decimal(bad))

    def test_int_rates_are_accepted_as_decimals(self):
        assert rate(rate=13).rate == Decimal("13")

    def test_dates_must_be_days_and_are_named(self):
        with pytest.raises(TypeError, match=r"^effective_from must be a datetime.date, got str$"):
            rate(effective_from="2010-07-01")
        with pytest.raises(TypeError, match=r"^effective_to must be a datetime.date, got str$"):
            rate(effective_to="2025-03-31")

    def test_a_rate_may_last_one_day(self):
        one_day = rate(effective_from=date(2025, 4, 1), effective_to=date(2025, 4, 1))
        assert one_day.in_force(date(2025, 4, 1))
        assert not one_day.in_force(date(2025, 4, 2))
        assert not one_day.in_force(date(2025, 3, 31))
        with pytest.raises(ValueError, match=r"^ON HST ends before it starts$"):
            rate(effective_from=date(2025, 4, 1), effective_to=date(2025, 3, 31))


class TestRateTable:
    def test_json_fields_are_named_when_not_strings(self, tmp_path):
        with pytest.raises(
            ValueError, match=r"^effective_from must be an ISO date string, got 20100701$"
        ):
            table(tmp_path, [row("ON", "HST", "13", 20100701, None)])
        with pytest.raises(
            ValueError, match=r"^effective_to must be an ISO date string, got 20250331$"
        ):
            table(tmp_path, [row("ON", "HST", "13", "2010-07-01", 20250331)])

    def test_a_table_that_is_not_a_list(self, tmp_path):
        path = tmp_path / "rates.json"
        path.write_text('{"ON": "13"}', encoding="utf-8")
        with pytest.raises(ValueError, match="expected a JSON list of rate rows"):
            load_rates(path)

    def test_an_open_rate_followed_by_another_is_refused(self, tmp_path):
        rows = [
            row("NS", "HST", "14", "2025-04-01", None),
            row("NS", "HST", "15", "2010-07-01", None),
        ]
        with pytest.raises(ValueError, match="overlap or leave a gap"):
            table(tmp_path, rows)

    def test_rows_in_any_order_make_one_series(self, tmp_path):
        rates = table(
            tmp_path,
            [
                row("NS", "HST", "14.000", "2025-04-01", None),
                row("NS", "HST", "15.000", "2010-07-01", "2025-03-31"),
            ],
        )
        assert [r.rate for r in rates_for("NS", date(2025, 3, 31), rates)] == [Decimal("15")]
        assert [r.rate for r in rates_for("NS", date(2025, 4, 1), rates)] == [Decimal("14")]

    def test_gst_and_hst_may_follow_each_other_but_not_share_a_day(self, tmp_path):
        handover = [
            row("ON", "GST", "5", "2008-01-01", "2010-06-30"),
            row("ON", "HST", "13", "2010-07-01", None),
        ]
        rates = table(tmp_path, handover)
        assert [r.code for r in rates_for("ON", date(2010, 7, 1), rates)] == ["HST"]
        # HST before GST in time (a province leaving the HST) is fine too.
        (tmp_path / "b").mkdir()
        table(
            tmp_path / "b",
            [
                row("ON", "HST", "13", "2008-01-01", "2010-06-30"),
                row("ON", "GST", "5", "2010-07-01", None),
            ],
        )
        for end, start in [("2010-07-01", "2010-07-01"), ("2010-07-02", "2010-07-01")]:
            folder = tmp_path / f"{end}-{start}"
            folder.mkdir()
            with pytest.raises(ValueError, match=r"^ON has GST and HST in force on the same day$"):
                table(
                    folder,
                    [
                        row("ON", "GST", "5", "2008-01-01", end),
                        row("ON", "HST", "13", start, None),
                    ],
                )
        folder = tmp_path / "reverse"
        folder.mkdir()
        with pytest.raises(ValueError, match="GST and HST in force on the same day"):
            table(
                folder,
                [
                    row("ON", "HST", "13", "2008-01-01", "2010-07-01"),
                    row("ON", "GST", "5", "2010-07-01", None),
                ],
            )

    def test_the_gst_hst_check_runs_whatever_comes_first_in_the_table(self, tmp_path):
        rows = [
            row("BC", "PST", "7", "2013-04-01", None),
            row("ON", "GST", "5", "2008-01-01", None),
            row("ON", "HST", "13", "2010-07-01", None),
        ]
        with pytest.raises(ValueError, match="ON has GST and HST"):
            table(tmp_path, rows)

    def test_labels_come_from_the_table(self, tmp_path):
        rates = table(tmp_path, [row("QC", "GST", "5.000", "2008-01-01", None, "TPS/GST")])
        totals = compute_totals(
            [LineIn(Decimal(1), Decimal("10.00"))], province="QC", on=date(2026, 1, 1), rates=rates
        )
        assert [t.as_dict() for t in totals.taxes] == [
            {"code": "GST", "label": "TPS/GST", "rate": "5.000", "base": "10.00", "amount": "0.50"}
        ]


def test_the_canonical_form_refuses_an_amount_that_is_not_in_cents():
    # Signed and hashed content must never carry a silently re-rounded amount.
    from documents.tax import Totals

    totals = Totals(
        line_amounts=(Decimal("10.005"),),
        subtotal=Decimal("10.005"),
        taxable_subtotal=Decimal("10.005"),
        taxes=(),
        tax_total=Decimal("0.00"),
        total=Decimal("10.005"),
    )
    with pytest.raises(ValueError, match=r"^10\.005 is not a cent amount with exactly 2 decimals$"):
        totals.as_dict()


class TestLines:
    def test_a_float_is_refused_and_the_field_named(self):
        with pytest.raises(TypeError, match=r"^quantity is a float"):
            LineIn(2.5, Decimal("1.00"))
        with pytest.raises(TypeError, match=r"^unit_price is a float"):
            LineIn(Decimal(1), 19.99)

    def test_the_largest_quantity_is_allowed(self):
        line = LineIn(Decimal("999999.999"), Decimal("0.01"))
        totals = compute_totals([line], province="AB", on=date(2026, 1, 1))
        assert totals.subtotal == Decimal("10000.00")  # 9,999.99999 rounded half-up

    def test_only_line_items_are_computed(self):
        with pytest.raises(TypeError, match=r"^expected LineIn, got dict$"):
            compute_totals([{"quantity": 1, "unit_price": 1}], province="AB", on=date(2026, 1, 1))

    def test_the_largest_price_is_allowed_either_way(self):
        assert LineIn(Decimal(1), Decimal("99999999.99")).unit_price == Decimal("99999999.99")
        assert LineIn(Decimal(1), Decimal("-99999999.99")).unit_price == Decimal("-99999999.99")
        with pytest.raises(ValueError, match="unit_price is beyond"):
            LineIn(Decimal(1), Decimal("100000000.00"))

    def test_taxable_must_be_a_bool(self):
        with pytest.raises(TypeError, match=r"^taxable must be a bool$"):
            LineIn(Decimal(1), Decimal("1.00"), taxable=1)


def test_the_day_of_a_document_must_be_a_date():
    from datetime import datetime

    with pytest.raises(TypeError, match=r"^on must be a datetime.date, got datetime$"):
        rates_for("ON", datetime(2026, 1, 1, 12, 0))


def test_part_names_reads_the_rate_table_it_is_given():
    """``part_names(province, rates)`` names the parts from the table passed in, not from the
    shipped one: a table where Ontario charges GST and a PST (not its real HST) says so."""
    from documents.tax import part_names

    table = [
        TaxRate("ON", "GST", "GST", Decimal("5"), date(2020, 1, 1), None),
        TaxRate("ON", "PST", "PST", Decimal("8"), date(2020, 1, 1), None),
    ]
    assert part_names("ON", table) == {"federal": "GST", "provincial": "PST"}
    assert part_names("ON") == {"federal": "HST"}
    assert part_names("BC", table) == {}


def test_a_prepayment_is_checked_with_messages_that_name_its_fields():
    """A deposit handed to the tax-point rule is refused with a message naming what is wrong:
    a float amount, a negative one, one over the money maximum, a day that is not a date."""
    from documents.tax import Prepayment

    day = date(2025, 3, 28)
    with pytest.raises(
        TypeError,
        match=r"^amount is a float \(1\.5\); money must be Decimal, e\.g\. Decimal\('1\.5'\)$",
    ):
        Prepayment(1.5, day)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^a prepayment must be ≥ 0 and ≤ 99999999\.99: -0\.01$"):
        Prepayment(Decimal("-0.01"), day)
    with pytest.raises(
        ValueError, match=r"^a prepayment must be ≥ 0 and ≤ 99999999\.99: 100000000\.00$"
    ):
        Prepayment(Decimal("100000000.00"), day)
    assert Prepayment(Decimal("99999999.99"), day).amount == Decimal("99999999.99")
    assert Prepayment(Decimal("0"), day).amount == Decimal("0")
    with pytest.raises(TypeError, match=r"^on must be a datetime\.date, got str$"):
        Prepayment(Decimal("287.50"), "2025-03-28")  # type: ignore[arg-type]


def test_the_tax_point_reads_the_rate_table_it_is_given_and_ignores_a_zero_deposit():
    """``compute_totals(..., rates=table, prepaid=...)`` splits at the tax point with the table
    passed in (its rate on the deposit's day and its total then), not the shipped one. Here
    Nova Scotia's HST is 13 % until 2025-03-31 and 14 % after (the shipped table says 15 %).
    $1,000.00 invoiced on 2025-04-02 with $565.00 paid on 2025-03-28: the deposit covers half
    of the $1,130.00 then, so $500.00 is taxed at 13 % ($65.00) and $500.00 at 14 % ($70.00).
    A $0.00 deposit covers nothing: one tax line, as with no deposit."""
    from documents.tax import Prepayment

    table = [
        TaxRate("NS", "HST", "HST", Decimal("13"), date(2020, 1, 1), date(2025, 3, 31)),
        TaxRate("NS", "HST", "HST", Decimal("14"), date(2025, 4, 1), None),
    ]
    lines = [LineIn(Decimal("1"), Decimal("1000.00"))]
    paid, on = date(2025, 3, 28), date(2025, 4, 2)

    totals = compute_totals(
        lines, province="NS", on=on, rates=table, prepaid=Prepayment(Decimal("565.00"), paid)
    )
    assert [tax.as_dict() for tax in totals.taxes] == [
        {
            "code": "HST",
            "label": "HST",
            "rate": "13.000",
            "base": "500.00",
            "amount": "65.00",
            "prepaid_on": "2025-03-28",
        },
        {"code": "HST", "label": "HST", "rate": "14.000", "base": "500.00", "amount": "70.00"},
    ]
    assert totals.total == Decimal("1135.00")

    nothing = compute_totals(
        lines, province="NS", on=on, rates=table, prepaid=Prepayment(Decimal("0.00"), paid)
    )
    assert [tax.as_dict() for tax in nothing.taxes] == [
        {"code": "HST", "label": "HST", "rate": "14.000", "base": "1000.00", "amount": "140.00"}
    ]
    assert nothing.total == Decimal("1140.00")


def test_at_the_tax_point_a_tax_whose_rate_did_not_change_keeps_one_line():
    """Only the tax whose rate changed is split: here British Columbia's PST goes from 7 % to
    8 % on 2025-04-01 while the GST stays at 5 %. $1,000.00 invoiced on 2025-04-02 with $560.00
    paid on 2025-03-28 (half of the $1,120.00 then): GST $50.00 on the whole base, PST $35.00
    on $500.00 at 7 % and $40.00 on $500.00 at 8 %: $1,125.00."""
    from documents.tax import Prepayment

    table = [
        TaxRate("BC", "GST", "GST", Decimal("5"), date(2020, 1, 1), None),
        TaxRate("BC", "PST", "PST", Decimal("7"), date(2020, 1, 1), date(2025, 3, 31)),
        TaxRate("BC", "PST", "PST", Decimal("8"), date(2025, 4, 1), None),
    ]
    totals = compute_totals(
        [LineIn(Decimal("1"), Decimal("1000.00"))],
        province="BC",
        on=date(2025, 4, 2),
        rates=table,
        prepaid=Prepayment(Decimal("560.00"), date(2025, 3, 28)),
    )
    assert [(t.code, t.rate, t.base, t.amount, t.prepaid_on) for t in totals.taxes] == [
        ("GST", Decimal("5"), Decimal("1000.00"), Decimal("50.00"), None),
        ("PST", Decimal("7"), Decimal("500.00"), Decimal("35.00"), date(2025, 3, 28)),
        ("PST", Decimal("8"), Decimal("500.00"), Decimal("40.00"), None),
    ]
    assert totals.total == Decimal("1125.00")
