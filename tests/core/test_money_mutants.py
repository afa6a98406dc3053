"""The money helpers' edges that ``scripts/mutation money`` showed no test held.

Each test states a rule of ``crewcommand/lib/money.py`` as a user or a payment sees it: what is
refused and with which message, how a negative zero, a half cent or a French amount comes out
(display: CLDR formats through Babel, never rounded).
No database.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import translation

from crewcommand.lib.money import (
    active_locale,
    ensure_decimal,
    format_cad,
    from_cents,
    parse_money,
    parse_quantity,
    quantize_money,
    to_cents,
)

# CLDR (through Babel) writes fr-CA amounts with U+00A0 between groups and before "$"; typed
# amounts may also use U+202F or a plain space.
NNBSP, NBSP = "\u202f", "\u00a0"


class TestEnsureDecimal:
    def test_a_float_is_refused_and_named(self):
        with pytest.raises(TypeError, match=r"^price is a float \(0\.1\); money must be Decimal"):
            ensure_decimal(0.1, "price")

    @pytest.mark.parametrize("value", [True, False, "1.00", None])
    def test_bools_and_text_are_refused(self, value):
        with pytest.raises(TypeError, match=r"^amount must be a Decimal, got "):
            ensure_decimal(value, "amount")

    def test_the_default_name_is_value(self):
        with pytest.raises(TypeError, match=r"^value must be a Decimal, got str$"):
            ensure_decimal("1")

    @pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "sNaN"])
    def test_non_finite_values_are_refused(self, value):
        with pytest.raises(ValueError, match="must be a finite number"):
            ensure_decimal(Decimal(value))

    def test_ints_pass_exactly(self):
        result = ensure_decimal(12345678901234567890)
        assert isinstance(result, Decimal)
        assert result == Decimal("12345678901234567890")


class TestQuantizeAndCents:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (Decimal("1.005"), "1.01"),
            (Decimal("-1.005"), "-1.01"),
            (Decimal("1.004999"), "1.00"),
            (Decimal("-0.001"), "0.00"),
            (Decimal("-0"), "0.00"),
            (7, "7.00"),
        ],
    )
    def test_half_up_to_the_cent_and_never_negative_zero(self, value, expected):
        assert str(quantize_money(value)) == expected

    def test_rounding_ignores_the_callers_context(self):
        from decimal import ROUND_FLOOR, localcontext

        with localcontext() as ctx:
            ctx.rounding, ctx.prec = ROUND_FLOOR, 3
            assert str(quantize_money(Decimal("123456.785"))) == "123456.79"
            assert to_cents(Decimal("12345678.91")) == 1234567891

    @pytest.mark.parametrize(
        ("amount", "cents"),
        [(Decimal("12.34"), 1234), (Decimal("-0.05"), -5), (3, 300), (Decimal("1E+2"), 10000)],
    )
    def test_to_cents(self, amount, cents):
        result = to_cents(amount)
        assert result == cents
        assert type(result) is int

    def test_to_cents_refuses_to_round(self):
        with pytest.raises(
            ValueError,
            match=r"^12\.345 has more than 2 decimal places; round it with quantize_money before converting to cents$",
        ):
            to_cents(Decimal("12.345"))

    def test_to_cents_names_the_amount(self):
        with pytest.raises(TypeError, match=r"^amount is a float"):
            to_cents(1.5)

    @pytest.mark.parametrize(("cents", "text"), [(1234, "12.34"), (-5, "-0.05"), (0, "0.00")])
    def test_from_cents_has_two_decimals(self, cents, text):
        assert str(from_cents(cents)) == text

    @pytest.mark.parametrize(
        ("cents", "kind"), [(True, "bool"), (1.0, "float"), ("5", "str"), (Decimal(5), "Decimal")]
    )
    def test_from_cents_takes_only_ints(self, cents, kind):
        with pytest.raises(TypeError, match=rf"^cents must be an int, got {kind}$"):
            from_cents(cents)


LONG_INTEGER = "1234567890" * 6 + "1234"  # 64 digits


class TestFormat:
    @pytest.mark.parametrize(
        ("amount", "en", "fr"),
        [
            (Decimal("0"), "$0.00", f"0,00{NBSP}$"),
            (Decimal("5"), "$5.00", f"5,00{NBSP}$"),
            (Decimal("999.5"), "$999.50", f"999,50{NBSP}$"),
            (Decimal("1000"), "$1,000.00", f"1{NBSP}000,00{NBSP}$"),
            (Decimal("-1234.56"), "-$1,234.56", f"-1{NBSP}234,56{NBSP}$"),
            (Decimal("1234567.8"), "$1,234,567.80", f"1{NBSP}234{NBSP}567,80{NBSP}$"),
            (Decimal("0.335"), "$0.335", f"0,335{NBSP}$"),
            (Decimal("2.500"), "$2.50", f"2,50{NBSP}$"),
        ],
    )
    def test_both_locales(self, amount, en, fr):
        assert format_cad(amount) == en
        assert format_cad(amount, "en-CA") == en
        assert format_cad(amount, "fr-CA") == fr

    @pytest.mark.parametrize(
        "amount",
        [
            Decimal("0.1234567890123456789012345678901234"),  # 34 digits: more than Python's 28
            Decimal("123456789012345678901234567890.12"),
        ],
    )
    def test_display_never_rounds_whatever_the_callers_context(self, amount):
        from decimal import ROUND_FLOOR, localcontext

        with localcontext() as ctx:
            ctx.rounding, ctx.prec = ROUND_FLOOR, 3
            text = format_cad(amount)
        assert Decimal(text.removeprefix("$").replace(",", "")) == amount

    @pytest.mark.parametrize(
        ("amount", "text"), [(Decimal("-0.00"), "$0.00"), (Decimal("-0.001"), "-$0.001")]
    )
    def test_negative_zero_is_zero_and_a_negative_fraction_keeps_its_sign(self, amount, text):
        assert format_cad(amount) == text

    @pytest.mark.parametrize(
        ("amount", "text"),
        [
            (Decimal("1E+3"), "$1,000.00"),
            (Decimal("5E-7"), "$0.0000005"),
            (Decimal("0E-5"), "$0.00"),
        ],
    )
    def test_amounts_in_exponent_form_are_written_out(self, amount, text):
        # Decimal arithmetic can yield 1E+3; a page must never show "$1E+3.00".
        assert format_cad(amount) == text

    @pytest.mark.parametrize(
        ("amount", "locale", "text"),
        [
            # 71 digits before the point (and two zeros after): more than the 60 digits of
            # MONEY_CONTEXT, so the context must be sized from the value's digits and exponent.
            (Decimal("1E+70"), "en-CA", "$10" + ",000" * 23 + ".00"),
            # 64 digits before the point and 5 after: sized from the digits and the exponent.
            (
                Decimal("-" + LONG_INTEGER + ".56789"),
                "fr-CA",
                "-1"
                + "".join(NBSP + LONG_INTEGER[i : i + 3] for i in range(1, 64, 3))
                + f",56789{NBSP}$",
            ),
        ],
    )
    def test_amounts_longer_than_the_money_context_are_written_out_in_full(
        self, amount, locale, text
    ):
        # "Display never rounds", whatever the size: a context too short would round or raise.
        assert format_cad(amount, locale) == text

    @pytest.mark.parametrize("locale", ["fr_CA", "FR-ca", "fr-ca"])
    def test_locale_spelling_is_forgiving(self, locale):
        assert format_cad(Decimal("1000"), locale) == f"1{NBSP}000,00{NBSP}$"

    def test_unknown_locale_is_refused(self):
        with pytest.raises(
            ValueError, match=r"^unsupported locale 'de-DE'; use 'en-CA' or 'fr-CA'$"
        ):
            format_cad(Decimal("1"), "de-DE")

    def test_a_float_is_refused(self):
        with pytest.raises(TypeError, match=r"^amount is a float"):
            format_cad(1.5)

    @pytest.mark.parametrize(
        ("language", "locale"), [("fr", "fr-CA"), ("fr-ca", "fr-CA"), ("en", "en-CA")]
    )
    def test_active_locale_follows_the_language(self, language, locale):
        with translation.override(language):
            assert active_locale() == locale

    def test_active_locale_without_a_language_is_english(self):
        with translation.override(None):
            assert active_locale() == "en-CA"


class TestParse:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("1234.56", "1234.56"),
            ("$1,234.56", "1234.56"),
            ("1,234.56$", "1234.56"),
            ("  $ 12 ", "12.00"),
            (".5", "0.50"),
            ("5.", "5.00"),
            ("1,234,567", "1234567.00"),
            ("99999999.99", "99999999.99"),
            ("0.10", "0.10"),
            ("7.000", "7.00"),
        ],
    )
    def test_money_en(self, text, expected):
        assert str(parse_money(text)) == expected

    @pytest.mark.parametrize(
        ("text", "expected"),
        [(f"1{NNBSP}234,56{NBSP}$", "1234.56"), ("1 234,5", "1234.50"), ("2.5", "2.50")],
    )
    def test_money_fr(self, text, expected):
        assert str(parse_money(text, locale="fr-CA")) == expected

    def test_fr_refuses_both_marks(self):
        with pytest.raises(ValueError, match="is not a valid number"):
            parse_money("1,234.5", locale="fr-CA")

    @pytest.mark.parametrize(
        "text", ["abc", "1,23", "12,34.5", "1e9", "NaN", "-", "$", ".", "1.2.3"]
    )
    def test_invalid_money_message(self, text):
        with pytest.raises(ValueError) as caught:
            parse_money(text)
        assert str(caught.value) == (f"Amount {text!r} is not a valid number; enter e.g. 1234.56.")

    @pytest.mark.parametrize("text", ["", "   "])
    def test_required(self, text):
        with pytest.raises(ValueError, match=r"^Amount is required\.$"):
            parse_money(text)

    def test_length_limit(self):
        assert parse_money("0" * 60 + "1.00") == Decimal("1.00")  # 64 characters
        with pytest.raises(ValueError, match=r"^Amount is too long\.$"):
            parse_money("0" * 61 + "1.00")

    def test_not_text(self):
        with pytest.raises(TypeError, match=r"^expected text to parse, got int$"):
            parse_money(5)

    def test_places(self):
        with pytest.raises(ValueError, match=r"^Amount can have at most 2 decimal places\.$"):
            parse_money("1.005")

    def test_maximum(self):
        with pytest.raises(
            ValueError, match=r"^Amount is too large; the maximum is 99,999,999\.99\.$"
        ):
            parse_money("100000000")
        with pytest.raises(ValueError, match="too large"):
            parse_money("-100000000", allow_negative=True)

    def test_negative(self):
        with pytest.raises(ValueError, match=r"^Amount cannot be negative\.$"):
            parse_money("-5")
        assert str(parse_money("-5", allow_negative=True)) == "-5.00"
        assert str(parse_money(" - $5.25", allow_negative=True)) == "-5.25"
        assert str(parse_money("-0")) == "0.00"

    @pytest.mark.parametrize(
        ("text", "expected"), [("2", "2"), ("2.5", "2.5"), ("0.125", "0.125"), ("1,000", "1000")]
    )
    def test_quantity_as_typed(self, text, expected):
        assert str(parse_quantity(text)) == expected

    def test_quantity_fr(self):
        assert parse_quantity("2,5", locale="fr-CA") == Decimal("2.5")

    @pytest.mark.parametrize("text", ["0", "-1", "0.000"])
    def test_quantity_positive(self, text):
        with pytest.raises(ValueError, match=r"^Quantity must be greater than zero\.$"):
            parse_quantity(text)

    def test_quantity_limits(self):
        assert parse_quantity("999999.999") == Decimal("999999.999")
        with pytest.raises(
            ValueError, match=r"^Quantity is too large; the maximum is 999,999\.999\.$"
        ):
            parse_quantity("1000000")
        with pytest.raises(ValueError, match=r"^Quantity can have at most 3 decimal places\.$"):
            parse_quantity("1.0005")
        assert parse_quantity("1.5000") == Decimal("1.5")

    def test_quantity_takes_no_currency(self):
        with pytest.raises(ValueError) as caught:
            parse_quantity("$2")
        assert str(caught.value) == "Quantity '$2' is not a valid number; enter e.g. 2.5."
        with pytest.raises(ValueError, match=r"^Quantity is required\.$"):
            parse_quantity(" ")
