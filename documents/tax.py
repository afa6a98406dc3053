"""Canadian sales tax for estimates and invoices (pure Python, no Django).

``compute_totals`` is THE single function that turns line items into the
amounts shown on every page and PDF and charged through Stripe. It applies
the rounding rule written down in ``crewcommand.lib.money``: line amounts are
rounded half-up to the cent, each tax is computed once per document on the
taxable subtotal (no tax on tax) and rounded half-up, and
``total = subtotal + sum(taxes)``.

Rates are data, not code: ``documents/tax_rates.json`` lists each rate with
the dates it is in force (``effective_to`` is inclusive; ``null`` = open).

Per-tax exemption: each tax is federal (GST, or HST, which includes the
province's part) or provincial (PST, RST, QST). A line says which parts apply
(``LineIn.parts``: ``"all"``, ``"federal"`` or ``"provincial"``; ``taxable=False``
means none), so a BC labour line on real property can be GST-only. Each tax is
then computed on its own base: the sum of the amounts of the lines it applies
to, rounded half-up once per document. A document whose lines all carry every
tax (or none) gets exactly the figures of the single ``taxable`` flag.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext
from functools import lru_cache
from itertools import pairwise
from os import PathLike
from pathlib import Path
from typing import Final

from crewcommand.lib.money import (
    MAX_MONEY,
    MAX_QUANTITY,
    MONEY_CONTEXT,
    ZERO,
    ensure_decimal,
    quantize_money,
    to_cents,
)

__all__ = [
    "ALL_PARTS",
    "DEFAULT_RATES_PATH",
    "FEDERAL",
    "LABOUR_PRESETS",
    "PROVINCES",
    "PROVINCIAL",
    "TAX_PARTS",
    "LineIn",
    "Prepayment",
    "TaxLine",
    "TaxRate",
    "Totals",
    "compute_totals",
    "line_amount",
    "load_rates",
    "part_names",
    "rates_for",
]

PROVINCES: Final = frozenset(
    {"AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"}
)
# Federal taxes (GST/HST) are listed first, then the provincial ones.
_TAX_ORDER: Final = {"GST": 0, "HST": 0, "PST": 1, "RST": 1, "QST": 1}
# Which part of the tax system each code belongs to (``LineIn.parts``).
ALL_PARTS: Final = "all"
FEDERAL: Final = "federal"
PROVINCIAL: Final = "provincial"
TAX_PARTS: Final = frozenset({ALL_PARTS, FEDERAL, PROVINCIAL})
_PART_OF: Final = {
    "GST": FEDERAL,
    "HST": FEDERAL,
    "PST": PROVINCIAL,
    "RST": PROVINCIAL,
    "QST": PROVINCIAL,
}
_RATE_STEP: Final = Decimal("0.001")
_HUNDRED: Final = Decimal(100)
DEFAULT_RATES_PATH: Final = Path(__file__).with_name("tax_rates.json")


# --- data types -------------------------------------------------------------


def _require_date(value: object, name: str) -> date:
    """Accept a ``date`` but not a ``datetime`` (the caller picks the local day)."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{name} must be a datetime.date, got {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True)
class TaxRate:
    """One tax rate of one province, in force from/to the given days inclusive.

    ``rate`` is a percentage with at most 3 decimals (``Decimal("9.975")``).
    """

    province: str
    code: str
    label: str
    rate: Decimal
    effective_from: date
    effective_to: date | None

    def __post_init__(self) -> None:
        """Reject rows that cannot be a real rate."""
        if self.province not in PROVINCES:
            raise ValueError(f"unknown province {self.province!r}")
        if self.code not in _TAX_ORDER:
            raise ValueError(f"unknown tax code {self.code!r}")
        if not self.label:
            raise ValueError("a tax rate needs a label")
        rate = ensure_decimal(self.rate, "rate")
        object.__setattr__(self, "rate", rate)
        if not Decimal(0) < rate < _HUNDRED or rate != rate.quantize(_RATE_STEP):
            raise ValueError(f"rate must be a percentage in (0, 100) with ≤ 3 decimals: {rate}")
        _require_date(self.effective_from, "effective_from")
        if self.effective_to is not None:
            _require_date(self.effective_to, "effective_to")
            if self.effective_to < self.effective_from:
                raise ValueError(f"{self.province} {self.code} ends before it starts")

    def in_force(self, on: date) -> bool:
        """True when ``on`` lies within ``effective_from..effective_to`` inclusive."""
        ends_after = self.effective_to is None or on <= self.effective_to
        return self.effective_from <= on and ends_after


@dataclass(frozen=True, slots=True)
class LineIn:
    """One line item: ``quantity`` (> 0) times ``unit_price`` (may be negative
    for a discount line). A line with ``taxable=False`` is left out of the
    base of every tax; otherwise ``parts`` says which taxes apply to it:
    ``"all"``, only the ``"federal"`` one (GST/HST) or only the
    ``"provincial"`` one (PST/RST/QST)."""

    quantity: Decimal
    unit_price: Decimal
    taxable: bool = True
    parts: str = ALL_PARTS

    def taxed_by(self, code: str) -> bool:
        """True when the tax with this code applies to the line."""
        return self.taxable and self.parts in (ALL_PARTS, _PART_OF[code])

    def __post_init__(self) -> None:
        """Check types and limits; ints are converted to Decimal, floats refused."""
        quantity = ensure_decimal(self.quantity, "quantity")
        unit_price = ensure_decimal(self.unit_price, "unit_price")
        if not Decimal(0) < quantity <= MAX_QUANTITY:
            raise ValueError(f"quantity must be > 0 and ≤ {MAX_QUANTITY}: {quantity}")
        if unit_price.copy_abs() > MAX_MONEY:
            raise ValueError(f"unit_price is beyond ±{MAX_MONEY}: {unit_price}")
        if not isinstance(self.taxable, bool):
            raise TypeError("taxable must be a bool")
        if self.parts not in TAX_PARTS:
            raise ValueError(f"parts must be one of {sorted(TAX_PARTS)}: {self.parts!r}")
        object.__setattr__(self, "quantity", quantity)
        object.__setattr__(self, "unit_price", unit_price)


@dataclass(frozen=True, slots=True)
class Prepayment:
    """Money paid on a document before its date (a deposit), on day ``on``: under the tax-point
    rule its share of each tax stays at the rate in force that day (see ``compute_totals``)."""

    amount: Decimal
    on: date

    def __post_init__(self) -> None:
        """Check the amount and the day."""
        amount = ensure_decimal(self.amount, "amount")
        if amount < 0 or amount.copy_abs() > MAX_MONEY:
            raise ValueError(f"a prepayment must be ≥ 0 and ≤ {MAX_MONEY}: {amount}")
        object.__setattr__(self, "amount", amount)
        _require_date(self.on, "on")


@dataclass(frozen=True, slots=True)
class TaxLine:
    """One tax on a document: ``amount = round_half_up(base * rate / 100)``.

    ``prepaid_on`` is set on the part of a tax that a deposit paid that day carries at the
    rate then in force (the tax point); ``None`` on every other tax line."""

    code: str
    label: str
    rate: Decimal
    base: Decimal
    amount: Decimal
    prepaid_on: date | None = None

    def as_dict(self) -> dict[str, str]:
        """Strings only: rate with 3 decimals, money with exactly 2."""
        data = {
            "code": self.code,
            "label": self.label,
            "rate": format(self.rate.quantize(_RATE_STEP), "f"),
            "base": _money_str(self.base),
            "amount": _money_str(self.amount),
        }
        if self.prepaid_on is not None:  # absent otherwise: signed content stays as it was
            data["prepaid_on"] = self.prepaid_on.isoformat()
        return data


@dataclass(frozen=True, slots=True)
class Totals:
    """Everything a document shows: ``total = subtotal + tax_total``."""

    line_amounts: tuple[Decimal, ...]
    subtotal: Decimal
    taxable_subtotal: Decimal
    taxes: tuple[TaxLine, ...]
    tax_total: Decimal
    total: Decimal

    @property
    def total_cents(self) -> int:
        """The total in integer cents, exactly as charged through Stripe."""
        return to_cents(self.total)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, canonical form (strings with exactly 2 decimals) for hashing."""
        return {
            "line_amounts": [_money_str(a) for a in self.line_amounts],
            "subtotal": _money_str(self.subtotal),
            "taxable_subtotal": _money_str(self.taxable_subtotal),
            "taxes": [tax.as_dict() for tax in self.taxes],
            "tax_total": _money_str(self.tax_total),
            "total": _money_str(self.total),
        }


def _money_str(amount: Decimal) -> str:
    """Render an amount that already has exactly 2 decimals; never rounds."""
    if amount.as_tuple().exponent != -2:
        raise ValueError(f"{amount} is not a cent amount with exactly 2 decimals")
    return format(amount, "f")


# --- rate table ---------------------------------------------------------------


def _parse_day(value: object, field: str) -> date:
    """Parse an ISO ``YYYY-MM-DD`` string from the JSON table."""
    if not isinstance(value, str):
        raise ValueError(f"{field} must be an ISO date string, got {value!r}")
    return date.fromisoformat(value)


def _rate_from_row(row: Mapping[str, object]) -> TaxRate:
    """Build a TaxRate from one JSON row; the rate must be a string, not a number."""
    rate = row["rate"]
    if not isinstance(rate, str):
        raise ValueError(f'rate must be a string such as "13.000", got {rate!r}')
    effective_to = row.get("effective_to")
    return TaxRate(
        province=str(row["province"]),
        code=str(row["code"]),
        label=str(row["label"]),
        rate=Decimal(rate),
        effective_from=_parse_day(row["effective_from"], "effective_from"),
        effective_to=None if effective_to is None else _parse_day(effective_to, "effective_to"),
    )


def _check_continuous(series: list[TaxRate]) -> None:
    """Rows of one province and code must follow each other without gap or overlap."""
    ordered = sorted(series, key=lambda r: r.effective_from)
    for earlier, later in pairwise(ordered):
        expected = (
            None if earlier.effective_to is None else earlier.effective_to + timedelta(days=1)
        )
        if later.effective_from != expected:
            raise ValueError(
                f"{later.province} {later.code}: rows starting {earlier.effective_from} "
                f"and {later.effective_from} overlap or leave a gap"
            )


def _overlap(a: TaxRate, b: TaxRate) -> bool:
    """True when the two rows are in force on at least one common day."""
    a_end = a.effective_to or date.max
    b_end = b.effective_to or date.max
    return a.effective_from <= b_end and b.effective_from <= a_end


def _check_table(rates: Sequence[TaxRate]) -> None:
    """Validate the whole table: continuous series, never GST and HST together."""
    series: dict[tuple[str, str], list[TaxRate]] = defaultdict(list)
    for rate in rates:
        series[(rate.province, rate.code)].append(rate)
    for rows in series.values():
        _check_continuous(rows)
    for (province, code), gst_rows in series.items():
        if code != "GST":
            continue
        for hst in series.get((province, "HST"), []):
            if any(_overlap(gst, hst) for gst in gst_rows):
                raise ValueError(f"{province} has GST and HST in force on the same day")


@lru_cache(maxsize=8)
def _load_cached(path: str) -> tuple[TaxRate, ...]:
    """Read and validate one rate file (cached per resolved path)."""
    with open(path, encoding="utf-8") as handle:
        rows = json.load(handle, parse_float=Decimal)
    if not isinstance(rows, list):
        raise ValueError(f"{path}: expected a JSON list of rate rows")
    rates = tuple(_rate_from_row(row) for row in rows)
    _check_table(rates)
    return rates


def load_rates(path: str | PathLike[str] | None = None) -> tuple[TaxRate, ...]:
    """Load the rate table (default ``documents/tax_rates.json``); cached per path.

    The file is read once per process; restart to pick up edits.
    """
    resolved = Path(path) if path is not None else DEFAULT_RATES_PATH
    return _load_cached(str(resolved.resolve()))


def _coverage_start(rows: Sequence[TaxRate]) -> date:
    """First day on which every tax the table knows for a province has a rate.

    Rule: before that day the table is incomplete for the province, so we
    refuse rather than silently leave a tax out.
    """
    first: dict[str, date] = {}
    for row in rows:
        first[row.code] = min(first.get(row.code, row.effective_from), row.effective_from)
    return max(first.values())


def rates_for(
    province: str, on: date, rates: Sequence[TaxRate] | None = None
) -> tuple[TaxRate, ...]:
    """The rates in force in ``province`` on day ``on``, GST/HST first.

    Raises ``ValueError`` for an unknown province or when no (complete) set of
    rates is in force that day.
    """
    day = _require_date(on, "on")
    table = load_rates() if rates is None else tuple(rates)
    rows = [rate for rate in table if rate.province == province]
    if not rows:
        raise ValueError(f"unknown province {province!r}; expected one of {sorted(PROVINCES)}")
    start = _coverage_start(rows)
    in_force = [rate for rate in rows if rate.in_force(day)]
    if day < start or not in_force:
        raise ValueError(f"no {province} tax rates in force on {day.isoformat()}")
    return tuple(sorted(in_force, key=lambda r: (_TAX_ORDER[r.code], r.code)))


# --- computing a document -----------------------------------------------------


def line_amount(line: LineIn) -> Decimal:
    """``quantity * unit_price`` rounded half-up to the cent (1.005 -> 1.01)."""
    with localcontext(MONEY_CONTEXT):
        return quantize_money(line.quantity * line.unit_price)


def _sum_money(amounts: Iterable[Decimal]) -> Decimal:
    """Exact sum of cent amounts (exponent stays -2)."""
    with localcontext(MONEY_CONTEXT):
        return sum(amounts, start=ZERO)


def _tax_line(rate: TaxRate, base: Decimal, prepaid_on: date | None = None) -> TaxLine:
    """One tax on the document's taxable subtotal, rounded half-up once."""
    with localcontext(MONEY_CONTEXT):
        amount = quantize_money(base * rate.rate / _HUNDRED)
    return TaxLine(
        code=rate.code,
        label=rate.label,
        rate=rate.rate,
        base=base,
        amount=amount,
        prepaid_on=prepaid_on,
    )


def _split_taxes(
    items: tuple[LineIn, ...],
    in_force: tuple[TaxRate, ...],
    bases: Mapping[str, Decimal],
    *,
    province: str,
    on: date,
    prepaid: Prepayment | None,
    rates: Sequence[TaxRate] | None,
) -> tuple[TaxLine, ...]:
    """Each tax, split at the tax point when a deposit was paid under other rates.

    Rule (the transitional rules tie the rate to when tax becomes payable, the earlier of
    payment and the due date): a deposit paid on day ``p`` before the document's date covers
    the share ``f = deposit / total at p's rates`` (at most 1) of the document. For each tax
    whose rate on ``p`` differs from its rate on the document's date, the share
    ``round_half_up(base * f)`` of its base is taxed at ``p``'s rate and the rest at the
    document's rate, each rounded half-up once. Taxes with the same rate both days, documents
    without such a deposit, and every estimate, are computed exactly as before (one line per
    tax on its whole base)."""
    plain = tuple(_tax_line(rate, bases[rate.code]) for rate in in_force)
    if prepaid is None or prepaid.amount <= 0 or prepaid.on >= on:
        return plain
    earlier = {rate.code: rate for rate in rates_for(province, prepaid.on, rates)}
    changed = [
        rate for rate in in_force if rate.code in earlier and earlier[rate.code].rate != rate.rate
    ]
    if not changed:
        return plain
    total_then = compute_totals(items, province=province, on=prepaid.on, rates=rates).total
    if total_then <= 0:
        return plain
    share = min(prepaid.amount, total_then)
    taxes: list[TaxLine] = []
    for rate in in_force:
        base = bases[rate.code]
        if rate not in changed:
            taxes.append(_tax_line(rate, base))
            continue
        with localcontext(MONEY_CONTEXT):
            covered = quantize_money(base * share / total_then)
        taxes.append(_tax_line(earlier[rate.code], covered, prepaid_on=prepaid.on))
        taxes.append(_tax_line(rate, _sum_money((base, -covered))))
    return tuple(taxes)


def _validated_lines(lines: Iterable[LineIn]) -> tuple[LineIn, ...]:
    """Materialise ``lines`` and make sure each one is a LineIn."""
    items = tuple(lines)
    for item in items:
        if not isinstance(item, LineIn):
            raise TypeError(f"expected LineIn, got {type(item).__name__}")
    return items


def _check_not_negative(subtotal: Decimal, bases: Mapping[str, Decimal]) -> None:
    """Discounts may reduce a document (or one tax's base) to zero but never below it."""
    if subtotal < 0:
        raise ValueError(f"discounts exceed the items: subtotal would be {subtotal}")
    for code, base in bases.items():
        if base < 0:
            raise ValueError(
                f"taxable discounts exceed the taxable items: taxable subtotal would be "
                f"{base} ({code})"
            )


def compute_totals(
    lines: Iterable[LineIn],
    *,
    province: str,
    on: date,
    rates: Sequence[TaxRate] | None = None,
    prepaid: Prepayment | None = None,
) -> Totals:
    """Compute a document's amounts: the ONE function pages, PDFs and payments use.

    ``prepaid``: a deposit paid before ``on`` keeps its share of each tax at the rate in force
    when it was paid (the tax point; see ``_split_taxes``), so such a tax has two lines.

    Rule: line amounts rounded half-up to the cent; each tax in force in
    ``province`` on day ``on`` is applied once to the sum of the amounts of the
    lines it applies to (``LineIn.taxed_by``) and rounded half-up;
    ``total = subtotal + sum(taxes)``. ``taxable_subtotal`` is the sum of the
    lines with ``taxable=True`` (each tax's own base is on its ``TaxLine``).
    """
    items = _validated_lines(lines)
    in_force = rates_for(province, on, rates)
    line_amounts = tuple(line_amount(item) for item in items)
    pairs = tuple(zip(line_amounts, items, strict=True))
    subtotal = _sum_money(line_amounts)
    taxable_subtotal = _sum_money(amount for amount, item in pairs if item.taxable)
    bases = {
        rate.code: _sum_money(amount for amount, item in pairs if item.taxed_by(rate.code))
        for rate in in_force
    }
    _check_not_negative(subtotal, {"taxable": taxable_subtotal, **bases})
    taxes = _split_taxes(
        items, in_force, bases, province=province, on=on, prepaid=prepaid, rates=rates
    )
    tax_total = _sum_money(tax.amount for tax in taxes)
    return Totals(
        line_amounts=line_amounts,
        subtotal=subtotal,
        taxable_subtotal=taxable_subtotal,
        taxes=taxes,
        tax_total=tax_total,
        total=_sum_money((subtotal, tax_total)),
    )


def part_names(province: str, rates: Sequence[TaxRate] | None = None) -> dict[str, str]:
    """The codes of a province's federal and provincial taxes, from the rate table:
    ``{"federal": "GST", "provincial": "PST"}`` in BC, ``{"federal": "HST"}`` in Ontario."""
    table = load_rates() if rates is None else rates
    names: dict[str, str] = {}
    for rate in sorted(table, key=lambda r: r.effective_from):
        if rate.province == province:
            names[_PART_OF[rate.code]] = rate.code
    return names


# Presets shown beside the taxes of a line (the contractor decides; these are the usual cases):
# labour on real property is exempt from BC's PST and Manitoba's RST, so such a line is
# GST-only there; Saskatchewan's PST and Quebec's QST apply to that labour.
LABOUR_PRESETS: Final = {"BC": FEDERAL, "MB": FEDERAL}
