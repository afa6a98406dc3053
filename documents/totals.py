"""Totals of estimates and invoices, and the customer's selection of options.

Every amount shown or charged comes from here, which calls ``documents.tax.compute_totals``
(the single place the rounding rule is applied). Pages, PDFs, Stripe amounts and QuickBooks all
read these results, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.formats import date_format
from django.utils.translation import gettext as _

from crewcommand.lib.money import MAX_MONEY, ZERO, active_locale, format_cad, quantize_money
from crewcommand.templatetags.money import TAX_LABELS
from documents.models import (
    DepositKind,
    Estimate,
    EstimateRevision,
    EstimateStatus,
    Invoice,
    LineItem,
    LineKind,
    TaxParts,
)
from documents.tax import Prepayment, TaxLine, Totals, compute_totals, part_names

# The largest total a document may reach. Every money column (``money_field``: 14 digits, 2
# decimals) holds far more, so no subtotal, tax, total, deposit, payment or sum of them can
# overflow; a line form allows up to 999,999.999 times $99,999,999.99, so the limit is enforced on
# the whole document instead (``exceeds_limit``).
MAX_DOCUMENT_TOTAL = MAX_MONEY


@dataclass(frozen=True)
class Selection:
    """Which optional lines are picked, and which option per package group."""

    optional: frozenset[str] = frozenset()
    choices: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"optional": sorted(self.optional), "choices": dict(sorted(self.choices.items()))}

    @classmethod
    def from_json(cls, data: dict | None) -> Selection:
        data = data or {}
        return cls(
            optional=frozenset(str(x) for x in data.get("optional", [])),
            choices={str(k): str(v) for k, v in (data.get("choices") or {}).items()},
        )


def default_selection(lines: Iterable[LineItem]) -> Selection:
    optional, choices = set(), {}
    for line in lines:
        if line.kind == LineKind.OPTIONAL and line.selected_by_default:
            optional.add(line.public_id)
        elif line.kind == LineKind.CHOICE and (
            line.group not in choices or line.selected_by_default
        ):
            # The first option of a package is its default unless another is marked so.
            choices[line.group] = line.public_id
    return Selection(frozenset(optional), choices)


def validate_selection(lines: Sequence[LineItem], selection: Selection) -> Selection:
    """Keep only picks that name real lines of the right kind; every group gets one option."""
    by_id = {line.public_id: line for line in lines}
    optional = frozenset(
        pid for pid in selection.optional if pid in by_id and by_id[pid].kind == LineKind.OPTIONAL
    )
    defaults = default_selection(lines).choices
    choices: dict[str, str] = {}
    for group, default_pid in defaults.items():
        picked = selection.choices.get(group, "")
        ok = (
            picked in by_id
            and by_id[picked].kind == LineKind.CHOICE
            and by_id[picked].group == group
        )
        choices[group] = picked if ok else default_pid
    return Selection(optional, choices)


def is_selected(line: LineItem, selection: Selection) -> bool:
    if line.kind == LineKind.OPTIONAL:
        return line.public_id in selection.optional
    if line.kind == LineKind.CHOICE:
        return selection.choices.get(line.group) == line.public_id
    return True


def selected_lines(lines: Sequence[LineItem], selection: Selection | None) -> list[LineItem]:
    chosen = selection if selection is not None else default_selection(lines)
    return [line for line in lines if is_selected(line, chosen)]


def line_tax_note(taxable: bool, parts: str, province: str) -> str:
    """What a line says about its taxes when not every tax applies: "Tax exempt", "GST only",
    "PST only" (with the province's own tax names); "" for a line with every tax."""
    if not taxable:
        return str(_("Tax exempt"))
    if parts == TaxParts.ALL:
        return ""
    names = part_names(province)
    name = names.get(parts)
    if name is None:  # e.g. "provincial only" in a province without a provincial tax
        return str(_("No tax applies"))
    if len(names) == 1:  # HST or GST alone: that tax is every tax
        return ""
    return str(_("%(tax)s only") % {"tax": TAX_LABELS.get(name, name)})


def tax_split_note(tax: TaxLine, totals: Totals, locale: str | None = None) -> str:
    """Under a tax split at the tax point: "on the $250.00 of the deposit paid Mar 28, 2025" for
    the deposit's part, "on the other $750.00" for the rest; "" for a tax that is not split."""
    locale = locale or active_locale()
    if tax.prepaid_on is not None:
        return str(
            _("on %(base)s covered by the deposit paid %(date)s")
            % {
                "base": format_cad(tax.base, locale),
                "date": date_format(tax.prepaid_on, "DATE_FORMAT"),
            }
        )
    if any(other.code == tax.code and other.prepaid_on for other in totals.taxes):
        return str(_("on the other %(base)s") % {"base": format_cad(tax.base, locale)})
    return ""


def totals_for_lines(
    lines: Iterable[LineItem], *, province: str, on, prepaid: Prepayment | None = None
) -> Totals:
    items = [line.as_line_in() for line in lines]
    return compute_totals(items, province=province, on=on, prepaid=prepaid)


def exceeds_limit(lines: Sequence[LineItem], *, province: str, on) -> bool:
    """True when some choice of this document's options could total more than
    ``MAX_DOCUMENT_TOTAL``: the bound is every non-discount line picked at once, taxed; any
    real selection, with its discounts, totals no more than that."""
    charged = [line for line in lines if line.unit_price > 0]
    return totals_for_lines(charged, province=province, on=on).total > MAX_DOCUMENT_TOTAL


def revision_totals(
    revision: EstimateRevision,
    selection: Selection | None = None,
    lines: Sequence[LineItem] | None = None,
) -> Totals:
    lines = list(revision.lines.all()) if lines is None else lines
    chosen = selected_lines(lines, selection)
    return totals_for_lines(chosen, province=revision.province, on=revision.issue_date)


def invoice_totals(invoice: Invoice, lines: Sequence[LineItem] | None = None) -> Totals:
    lines = list(invoice.lines.all()) if lines is None else lines
    prepaid = None
    if invoice.prepaid_on is not None and invoice.prepaid_amount > 0:
        prepaid = Prepayment(invoice.prepaid_amount, invoice.prepaid_on)
    return totals_for_lines(
        lines, province=invoice.province, on=invoice.issue_date, prepaid=prepaid
    )


def deposit_amount(revision: EstimateRevision, total: Decimal) -> Decimal:
    """The deposit asked for: a percentage of the total (half-up to the cent) or a fixed amount,
    never more than the total."""
    if revision.deposit_kind == DepositKind.PERCENT:
        amount = quantize_money(total * revision.deposit_value / Decimal(100))
    elif revision.deposit_kind == DepositKind.FIXED:
        amount = quantize_money(revision.deposit_value)
    else:
        return ZERO
    return min(amount, total)


@dataclass(frozen=True)
class EstimateFigures:
    """An estimate's figures as they stand (see ``estimate_figures``)."""

    revision: EstimateRevision
    selection: Selection
    totals: Totals
    deposit: Decimal
    # True when the selection is the customer's own accepted choices, not the defaults.
    chosen: bool

    @property
    def total(self) -> Decimal:
        return self.totals.total


def estimate_figures(
    estimate: Estimate,
    revision: EstimateRevision | None = None,
    lines: Sequence[LineItem] | None = None,
    *,
    selection: Selection | None = None,
) -> EstimateFigures:
    """The one rule for what an estimate (or one of its revisions) adds up to.

    Once accepted, the accepted revision is read with the customer's own choices: the total and
    deposit the portal, the signed PDF, the converted invoice and Stripe all use. Any other
    revision, or the estimate before acceptance, is read with its default options (which is
    what ``EstimateRevision.total`` caches). ``revision`` defaults to the accepted revision
    once accepted, else the current one; lines are read through ``revision.lines.all()``, so
    lists prefetch them (``documents.selectors.with_figures``) and pay no query per row.

    ``selection``: choices not stored yet, the ones the customer is signing (the signature's
    snapshot, ``portal.canonical``); they are validated against the lines like stored ones."""
    accepted = estimate.status == EstimateStatus.ACCEPTED and estimate.accepted_revision_id
    if revision is None:
        revision = estimate.accepted_revision if accepted else estimate.current_revision
    if revision is None:
        raise ValueError(f"{estimate} has no revision")
    lines = list(revision.lines.all()) if lines is None else lines
    chosen = selection is not None or (
        bool(accepted) and revision.pk == estimate.accepted_revision_id
    )
    if selection is not None:
        selection = validate_selection(lines, selection)
    elif chosen:
        selection = validate_selection(lines, Selection.from_json(estimate.accepted_selection))
    else:
        selection = default_selection(lines)
    totals = revision_totals(revision, selection, lines=lines)
    return EstimateFigures(
        revision=revision,
        selection=selection,
        totals=totals,
        deposit=deposit_amount(revision, totals.total),
        chosen=chosen,
    )
