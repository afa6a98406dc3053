"""What the signed snapshot (``portal/canonical.py``) binds, and how it is written.

``scripts/mutation canonical`` showed that a line's description, the revision's notes, a field of
the company or customer, or the non-ASCII handling could drop out of the signed content without
a test failing. Each case below edits one thing a customer saw and expects the signed bytes (and
so the SHA-256 printed on the certificate) to change; the format checks are written from the
module's documentation, not from its code.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest

from documents.totals import Selection, default_selection
from portal import canonical
from tests.factories import EstimateFactory, JobFactory

pytestmark = pytest.mark.django_db
CONSENT = "I agree to sign this estimate electronically."


def snapshot(estimate, selection=None, consent=CONSENT) -> str:
    revision = estimate.current_revision
    lines = list(revision.lines.all())
    return canonical.canonical_json(
        estimate=estimate,
        revision=revision,
        selection=selection if selection is not None else default_selection(lines),
        consent_text=consent,
        language="en-ca",
    )


def test_serialization_is_compact_sorted_and_keeps_non_ascii():
    text = canonical.serialize({"b": "Chauffe-eau électrique", "a": [1, {"z": None, "y": True}]})
    assert text == '{"a":[1,{"y":true,"z":null}],"b":"Chauffe-eau électrique"}'
    assert canonical.sha256_hex("électrique") == hashlib.sha256("électrique".encode()).hexdigest()
    assert (
        canonical.sha256_hex("électrique")
        != hashlib.sha256("électrique".encode("utf-16")).hexdigest()
    )


def test_the_snapshot_format(customer):
    estimate = EstimateFactory(customer=customer)
    revision = estimate.current_revision
    content = json.loads(snapshot(estimate))
    assert content["format"] == "crewcommand.estimate.v3"
    assert content["currency"] == "CAD"
    assert content["estimate"] == {"id": estimate.public_id, "number": estimate.display_number}
    assert content["revision"] == {
        "number": revision.number,
        "issue_date": revision.issue_date.isoformat(),
        "valid_until": revision.valid_until.isoformat(),
        "province": revision.province,
        "notes": "Parking in the driveway, please.",
        "terms": revision.terms,
    }
    labour = content["lines"][1]
    assert labour == {
        "id": labour["id"],
        "position": 1,
        "description": "Installation labour",
        "quantity": "4.000",
        "unit_price": "95.00",
        "amount": "380.00",
        "taxable": True,
        "kind": "standard",
        "group": "",
        "selected": True,
    }
    assert [line["position"] for line in content["lines"]] == list(range(6))
    # Defaults: the 50-gallon tank and the expansion tank, not the tankless heater or softener.
    assert [line["selected"] for line in content["lines"]] == [True, True, True, False, True, False]
    # ON 13 %: 180 + 380 + 1450 + 165 = 2175.00; tax 282.75; deposit 25 % of 2457.75 = 614.44.
    assert content["totals"]["subtotal"] == "2175.00"
    assert content["totals"]["total"] == "2457.75"
    assert content["deposit"] == {"kind": "percent", "value": "25.00", "amount": "614.44"}
    assert content["job"] is None
    assert content["consent_text"] == CONSENT
    assert content["customer"]["name"] == customer.name
    assert content["company"]["name"] == "Maple Plumbing"
    assert set(content["company"]) == {
        "name", "address_line1", "city", "province", "postal_code", "phone", "email",
        "website", "gst_number", "qst_number", "timezone",
    }  # fmt: skip
    assert set(content["customer"]) == {
        "name", "address_line1", "city", "province", "postal_code", "email", "phone",
    }  # fmt: skip


def _line(estimate, index):
    return list(estimate.current_revision.lines.all())[index]


EDITS = {
    "line description": lambda e: _save(_line(e, 0), description="Remove the old heater"),
    "line quantity": lambda e: _save(_line(e, 1), quantity=Decimal("4.5")),
    "line price": lambda e: _save(_line(e, 1), unit_price=Decimal("95.01")),
    "line taxable": lambda e: _save(_line(e, 0), taxable=False),
    "line group": lambda e: _save(_line(e, 2), group="Heater"),
    "revision notes": lambda e: _save(e.current_revision, notes="Side door, please."),
    "revision terms": lambda e: _save(e.current_revision, terms="Net 30."),
    "deposit": lambda e: _save(e.current_revision, deposit_value=Decimal("30.00")),
    "company phone": lambda e: _save(e.company, phone="+1 416 555 0199"),
    "company tax number": lambda e: _save(e.company, gst_number="123456789RT0002"),
    "company time zone": lambda e: _save(e.company, timezone="America/Halifax"),
    "customer name": lambda e: _save(e.customer, name="Élise Côté"),
    "customer address": lambda e: _save(e.customer, address_line1="1 Rue Principale"),
    "customer email": lambda e: _save(e.customer, email="elise@example.ca"),
    "job": lambda e: _save(e, job=JobFactory(company=e.company, customer=e.customer)),
}


def _save(obj, **changes):
    for name, value in changes.items():
        setattr(obj, name, value)
    obj.save()


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_every_thing_the_customer_saw_is_in_the_signed_content(customer, edit):
    estimate = EstimateFactory(customer=customer)
    before = snapshot(estimate)
    EDITS[edit](estimate)
    estimate.refresh_from_db()
    assert snapshot(estimate) != before


def test_the_consent_text_and_the_selection_are_signed(customer):
    estimate = EstimateFactory(customer=customer)
    lines = list(estimate.current_revision.lines.all())
    before = snapshot(estimate)
    assert snapshot(estimate, consent="Another text") != before
    softener = lines[5].public_id
    with_softener = Selection(optional=frozenset({lines[4].public_id, softener}))
    content = json.loads(snapshot(estimate, with_softener))
    assert content["lines"][5]["selected"] is True
    assert content["selection"]["optional"] == sorted([lines[4].public_id, softener])


def test_a_forged_selection_is_reduced_to_real_lines(customer):
    estimate = EstimateFactory(customer=customer)
    lines = list(estimate.current_revision.lines.all())
    forged = Selection(optional=frozenset({"ln_not_there", lines[0].public_id}))
    content = json.loads(snapshot(estimate, forged))
    assert content["selection"]["optional"] == []  # a standard line is not an option


def test_a_job_is_signed_with_its_title_and_address(customer):
    estimate = EstimateFactory(customer=customer)
    job = JobFactory(company=estimate.company, customer=customer, title="Basement heater")
    _save(estimate, job=job)
    content = json.loads(snapshot(estimate))
    assert content["job"] == {"title": "Basement heater", "address": job.address}


def test_the_document_part_of_any_version():
    v2 = {key: key.upper() for key in canonical.DOCUMENT_KEYS}
    v2 |= {"format": "crewcommand.estimate.v2", "company": {}, "job": None}
    assert canonical.document_part(v2) == {key: key.upper() for key in canonical.DOCUMENT_KEYS}
    v1 = {"lines": [], "totals": {}, "format": "crewcommand.estimate.v1"}
    assert canonical.document_part(v1) == {"lines": [], "totals": {}}
    assert canonical.FORMATS == {
        1: "crewcommand.estimate.v1",
        2: "crewcommand.estimate.v2",
        3: "crewcommand.estimate.v3",
    }
    assert canonical.FORMAT == "crewcommand.estimate.v3"
    assert canonical.CANONICAL_VERSION == 3


def test_an_estimate_without_an_expiry_date_is_signed_with_null(customer):
    estimate = EstimateFactory(customer=customer)
    _save(estimate.current_revision, valid_until=None)
    estimate.refresh_from_db()
    assert json.loads(snapshot(estimate))["revision"]["valid_until"] is None


def test_the_lines_passed_in_are_the_ones_signed(customer):
    """``estimate_accept`` reads the lines once and checks the selection against them; the
    snapshot must be of those same lines, not of a second read that could differ."""
    estimate = EstimateFactory(customer=customer)
    revision = estimate.current_revision
    lines = list(revision.lines.all())
    lines[1].unit_price = Decimal("100.00")  # as read, not saved
    revision.lines.filter(pk=lines[0].pk).update(description="Changed after it was shown")
    content = json.loads(
        canonical.canonical_json(
            estimate=estimate,
            revision=revision,
            selection=default_selection(lines),
            consent_text=CONSENT,
            language="en-ca",
            lines=lines,
        )
    )
    assert content["lines"][0]["description"] == "Remove and dispose of the old water heater"
    assert content["lines"][1]["unit_price"] == "100.00"
    # 180 + 4 x 100 + 1450 + 165 = 2195.00
    assert content["totals"]["subtotal"] == "2195.00"


def test_which_taxes_a_line_carries_is_signed_when_not_all_of_them(customer):
    estimate = EstimateFactory(customer=customer)
    every_tax = json.loads(snapshot(estimate))
    assert all("tax_parts" not in line for line in every_tax["lines"])  # as before exemptions

    _save(_line(estimate, 0), tax_parts="federal")  # GST only (labour on real property, BC)
    federal = json.loads(snapshot(estimate))
    assert federal["lines"][0]["tax_parts"] == "federal"
    assert federal["lines"][0]["taxable"] is True

    _save(_line(estimate, 0), tax_parts="provincial")
    assert json.loads(snapshot(estimate))["lines"][0]["tax_parts"] == "provincial"


def test_the_sent_version_is_signed_with_its_own_deposit_while_the_next_is_drafted(customer):
    """The customer signs the version they were sent (v1, a 25 % deposit) while the company
    drafts v2 with a 50 % deposit: the signed deposit is v1's, worked out on v1's total, and
    the check of a stored signature (``document_content``) reads v1 too."""
    from crewcommand.lib.activity import Actor
    from documents import services as documents

    estimate = EstimateFactory(customer=customer)
    v1 = estimate.current_revision
    documents.estimate_update(
        estimate=estimate, actor=Actor.system(), fields={"deposit_value": Decimal("50.00")}
    )
    estimate.refresh_from_db()
    assert estimate.current_revision.number == 2
    lines = list(v1.lines.all())
    content = canonical.document_content(
        estimate=estimate, revision=v1, selection=default_selection(lines)
    )
    assert content["revision"]["number"] == 1
    # ON 13 %: 180 + 380 + 1450 + 165 = 2175.00, total 2457.75; 25 % of it = 614.44 (not
    # v2's 50 %, 1228.88).
    assert content["totals"]["total"] == "2457.75"
    assert content["deposit"] == {"kind": "percent", "value": "25.00", "amount": "614.44"}


def test_a_snapshot_is_read_in_the_language_it_was_signed_in(customer):
    """Version 3 stores the pages' language; a version 1 or 2 snapshot (no language, or an
    empty one) was signed in English."""
    estimate = EstimateFactory(customer=customer)
    revision = estimate.current_revision
    french = canonical.canonical_content(
        estimate=estimate,
        revision=revision,
        selection=default_selection(list(revision.lines.all())),
        consent_text=CONSENT,
        language="fr-ca",
    )
    assert canonical.snapshot_language(french) == "fr-ca"
    assert canonical.snapshot_language(json.loads(canonical.serialize(french))) == "fr-ca"
    assert canonical.snapshot_language({"format": "crewcommand.estimate.v2"}) == "en-ca"
    assert canonical.snapshot_language({"language": ""}) == "en-ca"
    assert canonical.snapshot_language({"language": None}) == "en-ca"
    assert canonical.LEGACY_LANGUAGE == "en-ca"
