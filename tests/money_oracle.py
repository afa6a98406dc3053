"""An independent calculator for expected amounts in tests: its own rate table and its own
rounding, sharing no code with ``documents.tax``, ``documents.totals`` or
``crewcommand.lib.money``. A test that takes its expected figures from here fails when the
project's arithmetic, its rates or its rounding drift; one that takes them from the project's
own functions only checks the plumbing.

The rates are those in force in 2026 (documents dated today), written out from the CRA's table:
GST 5 % everywhere outside the HST provinces; HST 13 % ON, 14 % NS (since 2025-04-01), 15 % NB,
NL, PE; PST 7 % BC, 6 % SK; RST 7 % MB; QST 9.975 % QC on the price before GST.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

RATES_2026: dict[str, tuple[tuple[str, str], ...]] = {
    "AB": (("GST", "5"),),
    "BC": (("GST", "5"), ("PST", "7")),
    "MB": (("GST", "5"), ("RST", "7")),
    "NB": (("HST", "15"),),
    "NL": (("HST", "15"),),
    "NS": (("HST", "14"),),
    "NT": (("GST", "5"),),
    "NU": (("GST", "5"),),
    "ON": (("HST", "13"),),
    "PE": (("HST", "15"),),
    "QC": (("GST", "5"), ("QST", "9.975")),
    "SK": (("GST", "5"), ("PST", "6")),
    "YT": (("GST", "5"),),
}
PROVINCES = tuple(sorted(RATES_2026))


def cents(value: Decimal) -> Decimal:
    """Half-up to the cent: a half cent goes away from zero."""
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Expected:
    subtotal: Decimal
    taxes: tuple[tuple[str, Decimal], ...]  # ("HST 13%", amount), in the order printed
    total: Decimal

    def tax(self, label: str) -> Decimal:
        return dict(self.taxes)[label]


def expected(lines, province: str) -> Expected:
    """``lines`` are (quantity, unit price, taxable) as strings or Decimals. Each line is
    rounded, each tax is taken once on the taxable lines' sum and rounded, total = sum."""
    amounts = [(cents(Decimal(str(q)) * Decimal(str(p))), bool(t)) for q, p, t in lines]
    subtotal = sum((a for a, _t in amounts), Decimal("0.00"))
    base = sum((a for a, t in amounts if t), Decimal("0.00"))
    taxes = tuple(
        (f"{code} {rate}%", cents(base * Decimal(rate) / 100))
        for code, rate in RATES_2026[province]
    )
    return Expected(subtotal, taxes, subtotal + sum(amount for _label, amount in taxes))


def cad(amount: Decimal) -> str:
    """English-Canadian display: $1,234.56 (a minus sign first for negatives)."""
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def to_cents(amount: Decimal) -> int:
    return int(amount * 100)
