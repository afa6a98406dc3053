"""Money for CrewCommand: Canadian dollars held as ``Decimal``, never ``float``.

THE ROUNDING RULE
=================
This is the one place the rule is written down; every page, PDF and payment
amount follows it because they all go through ``documents.tax.compute_totals``.

1. Money is ``decimal.Decimal`` in CAD. Floats are refused (``TypeError``)
   by every public function; ints are accepted because they are exact.
2. A line amount is ``quantity * unit_price``, computed exactly, then rounded
   ROUND_HALF_UP to the cent: a half cent goes away from zero
   (``3 x 0.335 = 1.005 -> 1.01``; ``-1.005 -> -1.01``).
3. Each tax (GST, HST, PST, RST, QST) is computed ONCE PER DOCUMENT on the sum
   of the taxable line amounts (the rounded amounts, after per-line
   exemptions), at its own rate on that pre-tax base, and rounded
   ROUND_HALF_UP to the cent. There is no tax on tax (Quebec's QST is charged
   on the price before GST) and taxes are never rounded per line.
4. ``total = subtotal + sum(taxes)``. Nothing is rounded after that.
5. Payments (Stripe) use integer cents of exactly that total or balance:
   ``to_cents`` raises on an amount that is not a whole number of cents
   instead of rounding it.

Arithmetic runs in ``MONEY_CONTEXT`` (60 significant digits), so results do
not depend on whatever decimal context the caller happens to have set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from functools import lru_cache
from typing import Final

from babel.numbers import format_currency, get_decimal_symbol

__all__ = [
    "CENT",
    "MAX_MONEY",
    "MAX_QUANTITY",
    "MONEY_CONTEXT",
    "ZERO",
    "ensure_decimal",
    "format_cad",
    "from_cents",
    "parse_money",
    "parse_quantity",
    "quantize_money",
    "to_cents",
]

ZERO: Final = Decimal("0.00")  # the one zero amount every app compares and sums with
CENT: Final = Decimal("0.01")
MAX_MONEY: Final = Decimal("99999999.99")
MAX_QUANTITY: Final = Decimal("999999.999")
MONEY_CONTEXT: Final = Context(
    prec=60,
    rounding=ROUND_HALF_UP,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)

_MONEY_PLACES: Final = 2
_QUANTITY_PLACES: Final = 3
_MAX_INPUT_LENGTH: Final = 64
_NBSP: Final = "\u00a0"
_NNBSP: Final = "\u202f"


def ensure_decimal(value: object, name: str = "value") -> Decimal:
    """Return ``value`` as a finite Decimal.

    Rule: Decimal passes, int (not bool) is converted exactly, float and
    everything else raise ``TypeError``; NaN and infinities raise ``ValueError``.
    """
    if isinstance(value, float):
        raise TypeError(
            f"{name} is a float ({value!r}); money must be Decimal, e.g. Decimal('{value}')"
        )
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a Decimal, got {type(value).__name__}")
    result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"{name} must be a finite number, got {result}")
    return result


def quantize_money(value: Decimal | int) -> Decimal:
    """Round ``value`` ROUND_HALF_UP to the cent (exponent -2, never ``-0.00``)."""
    amount = ensure_decimal(value).quantize(CENT, rounding=ROUND_HALF_UP, context=MONEY_CONTEXT)
    return amount.copy_abs() if amount.is_zero() else amount


def to_cents(amount: Decimal | int) -> int:
    """Convert a dollar amount to integer cents, refusing to round.

    Rule: ``Decimal("12.34") -> 1234``; ``Decimal("12.345")`` raises
    ``ValueError`` because a payment must be exactly the computed amount.
    """
    value = ensure_decimal(amount, "amount")
    cents = value.scaleb(_MONEY_PLACES, context=MONEY_CONTEXT)
    if cents != cents.to_integral_value(context=MONEY_CONTEXT):
        raise ValueError(
            f"{value} has more than 2 decimal places; round it with "
            "quantize_money before converting to cents"
        )
    return int(cents)


def from_cents(cents: int) -> Decimal:
    """Convert integer cents to a Decimal amount with exactly 2 decimals."""
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise TypeError(f"cents must be an int, got {type(cents).__name__}")
    digits = Decimal(cents).as_tuple()
    return Decimal((digits.sign, digits.digits, -_MONEY_PLACES))


# --- formatting -------------------------------------------------------------

# The locales money is written in, as Babel (CLDR) names them. Adding one here (and its
# translations) is all a new language needs: separators and patterns come from CLDR.
_LOCALES: Final = {"en-ca": "en_CA", "fr-ca": "fr_CA"}


def _babel_locale(locale: str) -> str:
    """Look up a locale ("en-CA", "fr-CA"; case and ``_``/``-`` ignored)."""
    name = _LOCALES.get(locale.replace("_", "-").lower())
    if name is None:
        raise ValueError(f"unsupported locale {locale!r}; use 'en-CA' or 'fr-CA'")
    return name


def _exact_context(value: Decimal) -> Context:
    """A context in which ``value`` can be written out without losing a digit; any rounding
    raises (``Inexact``) instead of happening silently."""
    digits = value.as_tuple()
    exponent = digits.exponent if isinstance(digits.exponent, int) else 0
    needed = len(digits.digits) + abs(exponent) + _MONEY_PLACES + 1
    return Context(
        prec=max(MONEY_CONTEXT.prec, needed),
        rounding=ROUND_HALF_UP,
        traps=[InvalidOperation, DivisionByZero, Overflow, Inexact],
    )


def active_locale() -> str:
    """The money locale of the language Django is using now: fr-CA for French, else en-CA."""
    from django.utils.translation import get_language

    return "fr-CA" if (get_language() or "").lower().startswith("fr") else "en-CA"


def format_cad(amount: Decimal | int, locale: str | None = None) -> str:
    """Format a CAD amount for display with the locale's CLDR currency format (Babel); with no
    locale, the active language's (``active_locale``: emails render in the customer's).

    en-CA: ``$1,234.56`` / ``-$1,234.56``. fr-CA: ``1 234,56 $`` (U+00A0, a no-break space,
    between groups and before ``$``). Display never rounds: at least 2 decimals, and any
    further non-zero decimals (a unit price such as 0.335) are shown; trailing zeros beyond
    the cent are dropped, and a negative zero is written as zero.
    """
    # The locale is resolved before the cache: cached under ``None``, the first caller's
    # language would be every later caller's (a French amount in an English message).
    return _format_cad(ensure_decimal(amount, "amount"), locale or active_locale())


@lru_cache(maxsize=4096)
def _format_cad(value: Decimal, locale: str) -> str:
    """``format_cad`` once per value and locale (a page writes the same few amounts many
    times, and Babel's formatting is the costly part). Equal decimals format alike (trailing
    zeros past the cent are dropped), so ``1.0`` and ``1.00`` may share an entry."""
    if value.is_zero():
        value = value.copy_abs()
    with localcontext(_exact_context(value)):
        return format_currency(
            value,
            "CAD",
            locale=_babel_locale(locale),
            decimal_quantization=False,
        )


# --- parsing ------------------------------------------------------------------

_DIGITS: Final = re.compile(r"[0-9]+", re.ASCII)
_GROUPED: Final = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+", re.ASCII)
_FR_SPACES: Final = re.compile(f"[ {_NBSP}{_NNBSP}]")


@dataclass(frozen=True, slots=True)
class _Field:
    """What a parsed number is called and the limits it must respect."""

    noun: str
    places: int
    maximum: Decimal
    currency: bool


_MONEY_FIELD: Final = _Field("Amount", _MONEY_PLACES, MAX_MONEY, currency=True)
_QUANTITY_FIELD: Final = _Field("Quantity", _QUANTITY_PLACES, MAX_QUANTITY, currency=False)


def _invalid(text: str, field: _Field) -> ValueError:
    """The error for input that is not a plain number."""
    example = "1234.56" if field.currency else "2.5"
    return ValueError(f"{field.noun} {text!r} is not a valid number; enter e.g. {example}.")


def _strip_sign_and_currency(text: str, field: _Field) -> tuple[bool, str]:
    """Remove one leading ``-`` and (for money) one leading or trailing ``$``."""
    body = text.strip()
    negative = body.startswith("-")
    body = body.removeprefix("-").strip()
    if field.currency:
        body = body.removeprefix("$").removesuffix("$").strip()
    return negative, body


def _split_number(body: str, locale: str) -> tuple[str, str] | None:
    """Split a number into integer digits and fraction digits, or ``None``.

    A locale whose (CLDR) decimal mark is ``.`` (en-CA): ``1,234.56``, commas only in complete
    groups of three. One whose mark is ``,`` (fr-CA): ``1 234,56``, spaces (plain, no-break or
    narrow no-break) group, and ``,`` or ``.`` is the decimal mark, never both.
    """
    if get_decimal_symbol(_babel_locale(locale)) == ",":
        if "," in body and "." in body:
            return None
        body = _FR_SPACES.sub("", body).replace(",", ".")
    integer, _, fraction = body.partition(".")
    if _GROUPED.fullmatch(integer):
        integer = integer.replace(",", "")
    valid_integer = integer == "" or _DIGITS.fullmatch(integer) is not None
    valid_fraction = fraction == "" or _DIGITS.fullmatch(fraction) is not None
    if not (valid_integer and valid_fraction and (integer or fraction)):
        return None
    return integer or "0", fraction


def _parse_number(text: object, field: _Field, locale: str) -> Decimal:
    """Parse user input into a Decimal within ``field``'s places and maximum."""
    if not isinstance(text, str):
        raise TypeError(f"expected text to parse, got {type(text).__name__}")
    if not text.strip():
        raise ValueError(f"{field.noun} is required.")
    if len(text) > _MAX_INPUT_LENGTH:
        raise ValueError(f"{field.noun} is too long.")
    negative, body = _strip_sign_and_currency(text, field)
    parts = _split_number(body, locale)
    if parts is None:
        raise _invalid(text.strip(), field)
    integer, fraction = parts
    if len(fraction.rstrip("0")) > field.places:
        raise ValueError(f"{field.noun} can have at most {field.places} decimal places.")
    sign = "-" if negative else ""
    value = Decimal(f"{sign}{integer}.{fraction}" if fraction else f"{sign}{integer}")
    if value.copy_abs() > field.maximum:
        raise ValueError(f"{field.noun} is too large; the maximum is {field.maximum:,}.")
    return value


def parse_money(text: str, *, locale: str = "en-CA", allow_negative: bool = False) -> Decimal:
    """Parse a user-typed amount into a Decimal with exactly 2 decimals.

    Accepts ``1234.56``, ``$1,234.56``, ``-5`` (only with ``allow_negative``,
    e.g. for discount lines) and, for fr-CA, ``1 234,56 $``. Raises
    ``ValueError`` with a message fit for the user on anything else: text,
    NaN/Infinity, exponents (``1e9``), more than 2 decimals, or a magnitude
    above 99,999,999.99.
    """
    value = _parse_number(text, _MONEY_FIELD, locale)
    if value < 0 and not allow_negative:
        raise ValueError("Amount cannot be negative.")
    return quantize_money(value)


def parse_quantity(text: str, *, locale: str = "en-CA") -> Decimal:
    """Parse a user-typed quantity: up to 3 decimals, > 0, at most 999,999.999.

    The value is returned as typed (``"2"`` -> ``Decimal("2")``).
    """
    value = _parse_number(text, _QUANTITY_FIELD, locale)
    if value <= 0:
        raise ValueError("Quantity must be greater than zero.")
    return value
