"""The canonical serialization of a signed estimate revision, and its SHA-256.

A signature binds to exactly one revision and the customer's selection. To prove later that
the content did not change, the content is written out in one documented, deterministic form
and hashed. Version 1 of the form (``"format": "crewcommand.estimate.v1"``):

- JSON, UTF-8, keys sorted, no insignificant whitespace (``separators=(",", ":")``), non-ASCII
  characters kept as they are (``ensure_ascii=False``);
- money as strings with exactly two decimals (``"1234.50"``), quantities as strings with exactly
  three (``"1.500"``), tax rates as strings with three (``"13.000"``), dates as ISO ``YYYY-MM-DD``;
- ``lines``: every line of the revision in order, with ``selected`` telling whether the
  customer's selection includes it, and its amount (quantity x unit price, rounded half-up);
- ``selection``: ``documents.totals.Selection.as_json()``;
- ``totals``: ``documents.tax.Totals.as_dict()`` for the selected lines;
- ``deposit``: the kind, value and resulting amount;
- the revision's notes and terms, number, dates and tax province, and the estimate's number and
  public id.

The hash is ``sha256(canonical_json.encode("utf-8")).hexdigest()``. Verification recomputes the
form from the stored revision and the stored selection and compares the two hashes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from documents.models import Estimate, EstimateRevision, LineItem
from documents.totals import (
    Selection,
    deposit_amount,
    is_selected,
    revision_totals,
    validate_selection,
)

CANONICAL_VERSION = 1
FORMAT = "crewcommand.estimate.v1"
_CENT = Decimal("0.01")
_MILLI = Decimal("0.001")


def _money(value: Decimal) -> str:
    return format(Decimal(value).quantize(_CENT), "f")


def _quantity(value: Decimal) -> str:
    return format(Decimal(value).quantize(_MILLI), "f")


def _date(value) -> str | None:
    return value.isoformat() if value else None


def canonical_content(
    *,
    estimate: Estimate,
    revision: EstimateRevision,
    selection: Selection,
    lines: Sequence[LineItem] | None = None,
) -> dict[str, Any]:
    """The signed content as plain JSON-ready data (strings, lists, dicts, ints, bools)."""
    lines = list(revision.lines.all()) if lines is None else list(lines)
    selection = validate_selection(lines, selection)
    totals = revision_totals(revision, selection, lines=lines)
    return {
        "format": FORMAT,
        "currency": "CAD",
        "estimate": {"id": estimate.public_id, "number": estimate.display_number},
        "revision": {
            "number": revision.number,
            "issue_date": _date(revision.issue_date),
            "valid_until": _date(revision.valid_until),
            "province": revision.province,
            "notes": revision.notes,
            "terms": revision.terms,
        },
        "lines": [
            {
                "id": line.public_id,
                "position": index,
                "description": line.description,
                "quantity": _quantity(line.quantity),
                "unit_price": _money(line.unit_price),
                "amount": _money(line.amount),
                "taxable": line.taxable,
                "kind": line.kind,
                "group": line.group,
                "selected": is_selected(line, selection),
            }
            for index, line in enumerate(lines)
        ],
        "selection": selection.as_json(),
        "totals": totals.as_dict(),
        "deposit": {
            "kind": revision.deposit_kind,
            "value": _money(revision.deposit_value),
            "amount": _money(deposit_amount(revision, totals.total)),
        },
    }


def serialize(content: dict[str, Any]) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_json(
    *,
    estimate: Estimate,
    revision: EstimateRevision,
    selection: Selection,
    lines: Sequence[LineItem] | None = None,
) -> str:
    return serialize(
        canonical_content(estimate=estimate, revision=revision, selection=selection, lines=lines)
    )
