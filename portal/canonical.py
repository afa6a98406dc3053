"""The canonical serialization of a signed estimate, and its SHA-256.

A signature binds to exactly one revision and the customer's selection. To prove later that
the content did not change, the content is written out in one documented, deterministic form
and hashed. Common rules of every version:

- JSON, UTF-8, keys sorted, no insignificant whitespace (``separators=(",", ":")``), non-ASCII
  characters kept as they are (``ensure_ascii=False``);
- money as strings with exactly two decimals (``"1234.50"``), quantities as strings with exactly
  three (``"1.500"``), tax rates as strings with three (``"13.000"``), dates as ISO ``YYYY-MM-DD``.

Version 1 (``"format": "crewcommand.estimate.v1"``, signatures made before the snapshot) holds
the *document* part only:

- ``lines``: every line of the revision in order, with ``selected`` telling whether the
  customer's selection includes it, and its amount (quantity x unit price, rounded half-up);
  a taxable line that carries only some of the taxes also has ``tax_parts`` (``"federal"``:
  GST/HST only, ``"provincial"``: PST/RST/QST only). The key is absent for a line with every
  tax or none, so content signed before per-tax exemption existed is unchanged;
- ``selection``: ``documents.totals.Selection.as_json()``;
- ``totals``: ``documents.tax.Totals.as_dict()`` for the selected lines;
- ``deposit``: the kind, value and resulting amount;
- the revision's notes and terms, number, dates and tax province, and the estimate's number and
  public id.

Version 2 (``"format": "crewcommand.estimate.v2"``) is the *snapshot of everything the customer
saw when signing*: the document part above, plus ``company`` (name, address, contact, tax
numbers as printed, and the time zone of the certificate's local time), ``customer`` (name, address, email, phone as printed), ``job`` (title and
address, or null) and ``consent_text``. The signed PDF is rendered from this snapshot, so later
edits to the customer, the company or the job do not change what the signed PDF says.

Version 3 (``"format": "crewcommand.estimate.v3"``, signatures made since French pages exist) is
version 2 plus ``language``: the language code of the pages the customer read and signed
(``"en-ca"`` or ``"fr-ca"``); the consent text is then in that language, word for word as shown.
Versions 1 and 2 have no ``language`` key (everything was English then) and are verified as
they were stored: a version is never re-serialized in a later format.

The hash is ``sha256(canonical_json.encode("utf-8")).hexdigest()``: public, printed on the
certificate, so a customer can check it. Verification recomputes the document part from the
stored revision and the stored selection and compares it with the snapshot; the keyed seal
(``portal.seal``) is what makes the row itself tamper-evident.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from crewcommand.models import Company, Customer, Job
from documents.models import Estimate, EstimateRevision, LineItem, TaxParts
from documents.totals import (
    Selection,
    estimate_figures,
    is_selected,
)

CANONICAL_VERSION = 3
FORMATS = {
    1: "crewcommand.estimate.v1",
    2: "crewcommand.estimate.v2",
    3: "crewcommand.estimate.v3",
}
# The language of snapshots that do not name one (versions 1 and 2: English only then).
LEGACY_LANGUAGE = "en-ca"
FORMAT = FORMATS[CANONICAL_VERSION]
# The keys of the document part, the same in every version (compared against the revision).
DOCUMENT_KEYS = ("currency", "estimate", "revision", "lines", "selection", "totals", "deposit")
_CENT = Decimal("0.01")
_MILLI = Decimal("0.001")


def _money(value: Decimal) -> str:
    return format(Decimal(value).quantize(_CENT), "f")


def _quantity(value: Decimal) -> str:
    return format(Decimal(value).quantize(_MILLI), "f")


def _date(value) -> str | None:
    return value.isoformat() if value else None


def document_content(
    *,
    estimate: Estimate,
    revision: EstimateRevision,
    selection: Selection,
    lines: Sequence[LineItem] | None = None,
) -> dict[str, Any]:
    """The document part (``DOCUMENT_KEYS``) as plain JSON-ready data."""
    lines = list(revision.lines.all()) if lines is None else list(lines)
    figures = estimate_figures(estimate, revision, lines, selection=selection)
    selection, totals = figures.selection, figures.totals
    return {
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
        "lines": [_line(line, index, selection) for index, line in enumerate(lines)],
        "selection": selection.as_json(),
        "totals": totals.as_dict(),
        "deposit": {
            "kind": revision.deposit_kind,
            "value": _money(revision.deposit_value),
            "amount": _money(figures.deposit),
        },
    }


def _line(line: LineItem, index: int, selection: Selection) -> dict[str, Any]:
    content = {
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
    # Only a taxable line that carries some of the taxes says which: a line with every tax
    # (or none) serializes exactly as before per-tax exemption, so snapshots signed before it
    # still match their revision.
    if line.taxable and line.tax_parts != TaxParts.ALL:
        content["tax_parts"] = line.tax_parts
    return content


def _company(company: Company) -> dict[str, str]:
    return {
        field: getattr(company, field)
        for field in (
            "name",
            "address_line1",
            "city",
            "province",
            "postal_code",
            "phone",
            "email",
            "website",
            "gst_number",
            "qst_number",
            "timezone",
        )
    }


def _customer(customer: Customer) -> dict[str, str]:
    fields = ("name", "address_line1", "city", "province", "postal_code", "email", "phone")
    return {field: getattr(customer, field) for field in fields}


def _job(job: Job | None) -> dict[str, str] | None:
    return {"title": job.title, "address": job.address} if job is not None else None


def canonical_content(
    *,
    estimate: Estimate,
    revision: EstimateRevision,
    selection: Selection,
    consent_text: str,
    language: str,
    lines: Sequence[LineItem] | None = None,
) -> dict[str, Any]:
    """The version-3 snapshot: the document part plus the company, customer and job as they
    are printed now (at signing), the consent text shown and the language of the pages."""
    return {
        "format": FORMATS[3],
        "language": language,
        **document_content(estimate=estimate, revision=revision, selection=selection, lines=lines),
        "company": _company(estimate.company),
        "customer": _customer(estimate.customer),
        "job": _job(estimate.job),
        "consent_text": consent_text,
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
    consent_text: str,
    language: str,
    lines: Sequence[LineItem] | None = None,
) -> str:
    return serialize(
        canonical_content(
            estimate=estimate,
            revision=revision,
            selection=selection,
            consent_text=consent_text,
            language=language,
            lines=lines,
        )
    )


def document_part(content: dict[str, Any]) -> dict[str, Any]:
    """The document part of a stored snapshot of any version (missing keys stay missing)."""
    return {key: content[key] for key in DOCUMENT_KEYS if key in content}


def snapshot_language(content: dict[str, Any]) -> str:
    """The language a stored snapshot was signed in (English before version 3)."""
    return content.get("language") or LEGACY_LANGUAGE
