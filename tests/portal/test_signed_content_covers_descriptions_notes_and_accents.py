"""What a signature binds: every line's description and the revision's notes are in the signed
content (change them and verification says mismatch), the canonical JSON of a fixed French
estimate is pinned to the byte, and a signature made with non-default options verifies."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from crewcommand.models import Company, Customer, Job
from documents.models import DepositKind, Estimate, EstimateRevision, LineItem
from documents.totals import Selection
from portal import canonical, services
from portal.forms import CONSENT_TEXT
from portal.signatures import typed_svg
from tests.factories import EstimateFactory
from tests.portal.helpers import issue, sign

pytestmark = pytest.mark.django_db


def _problems(signature) -> tuple[str, ...]:
    signature.refresh_from_db()
    return services.signature_verify(signature=signature).problems


def test_a_changed_line_description_is_a_mismatch(customer):
    estimate = EstimateFactory(customer=customer)
    signature = sign(estimate, issue(customer, estimate))
    assert _problems(signature) == ()
    snapshot = json.loads(signature.canonical_json)
    assert snapshot["lines"][1]["description"] == "Installation labour"
    LineItem.objects.filter(revision=signature.revision, description="Installation labour").update(
        description="Installation labour (weekend rate)"
    )
    assert any("lines" in problem for problem in _problems(signature))


def test_changed_revision_notes_are_a_mismatch(customer):
    estimate = EstimateFactory(customer=customer)
    signature = sign(estimate, issue(customer, estimate))
    assert json.loads(signature.canonical_json)["revision"]["notes"] == (
        "Parking in the driveway, please."
    )
    EstimateRevision.objects.filter(pk=signature.revision_id).update(notes="Street parking only.")
    assert _problems(signature) != ()


def test_a_signature_with_non_default_options_verifies_at_the_service_level(customer):
    """The customer picked the non-default package and added the non-default add-on, and
    dropped the default one: verification must recompute with *their* options."""
    estimate = EstimateFactory(customer=customer)
    issued = issue(customer, estimate)
    lines = {line.description: line for line in estimate.current_revision.lines.all()}
    selection = Selection(
        optional=frozenset({lines["Water softener"].public_id}),
        choices={"Water heater": lines["Tankless heater"].public_id},
    )
    signature = services.estimate_accept(
        estimate=estimate,
        link=issued.link,
        revision_number=estimate.current_revision.number,
        selection=selection,
        signature=services.SignatureIn(
            signer_name="Alice Tremblay",
            method="typed",
            image_svg=typed_svg("Alice Tremblay"),
            consent_text=str(CONSENT_TEXT),
        ),
        ip="203.0.113.9",
        user_agent="pytest",
    )
    # 180 + 4 x 95 + 2890 + 1195 = 4645.00, plus 13 % HST = 603.85
    assert json.loads(signature.canonical_json)["totals"]["total"] == "5248.85"
    result = services.signature_verify(signature=signature)
    assert result.ok, result.problems
    # And a tampered selection on that signature is still caught.
    Estimate.objects.filter(pk=estimate.pk).update(accepted_selection=Selection().as_json())
    assert not services.signature_verify(signature=type(signature).objects.get(pk=signature.pk)).ok


# --- The canonical form, pinned --------------------------------------------------------------------

# sha256 of the UTF-8 bytes of the canonical JSON below. Figures checked by hand: 1450.00 +
# 3.5 x 95.00 = 1782.50; GST 5 % = 89.125 -> 89.13; QST 9.975 % = 177.80; total 2049.43;
# deposit 25 % = 512.3575 -> 512.36. A change here is a new canonical version, never an edit.
PINNED_SHA256 = "052a2fe71fc84f923d82da16333e63b7781b4b06c3084e88eefccc21c5919b29"
PINNED_V3_SHA256 = "cd2dd713d81f1a3b31e4293123d4f669dd8266f7e8f571518eb1110f33bec0be"


def _fixed_estimate():
    """A French-Canadian estimate built in memory with fixed ids and dates (no database)."""
    company = Company(
        name="Électricité Gagné",
        address_line1="12, rue Saint-Édouard",
        city="Québec",
        province="QC",
        postal_code="G1K 3X1",
        phone="418 555-0142",
        email="bonjour@gagne.example",
        website="",
        gst_number="123456789 RT0001",
        qst_number="1234567890 TQ0001",
        timezone="America/Toronto",
    )
    customer = Customer(
        company=company,
        name="Zoë Bélanger",
        address_line1="4, côte de la Fabrique",
        city="Québec",
        province="QC",
        postal_code="G1R 3V6",
        email="zoe@example.com",
        phone="418 555-0199",
    )
    job = Job(company=company, customer=customer, title="Entrée électrique", address="4, côte")
    estimate = Estimate(
        company=company, customer=customer, job=job, number=7, public_id="pinnedestimate"
    )
    revision = EstimateRevision(
        estimate=estimate,
        number=1,
        issue_date=dt.date(2026, 1, 15),
        valid_until=dt.date(2026, 2, 14),
        province="QC",
        notes="Accès par la cour arrière — chien gentil.",
        terms="Garantie de 2 ans sur la main-d'œuvre.",
        deposit_kind=DepositKind.PERCENT,
        deposit_value=Decimal("25"),
    )
    lines = [
        LineItem(
            public_id="pinnedline0001",
            position=0,
            description="Panneau électrique 200 A",
            quantity=Decimal("1"),
            unit_price=Decimal("1450.00"),
            taxable=True,
            kind="standard",
            group="",
            selected_by_default=True,
        ),
        LineItem(
            public_id="pinnedline0002",
            position=1,
            description="Main-d'œuvre (électricien)",
            quantity=Decimal("3.5"),
            unit_price=Decimal("95.00"),
            taxable=True,
            kind="standard",
            group="",
            selected_by_default=True,
        ),
    ]
    return estimate, revision, lines


def test_the_canonical_json_of_a_fixed_french_estimate_is_pinned_to_the_byte():
    estimate, revision, lines = _fixed_estimate()
    text = canonical.canonical_json(
        estimate=estimate,
        revision=revision,
        selection=Selection(),
        consent_text="J'accepte de signer électroniquement.",
        language="fr-ca",
        lines=lines,
    )
    # Non-ASCII is written as itself, in UTF-8, never as \\u escapes.
    assert "électrique 200 A" in text and "\\u00e9" not in text
    assert '"name":"Zoë Bélanger"' in text
    assert text.encode("utf-8").count("é".encode()) == text.count("é")
    assert text.startswith('{"company":{"address_line1":"12, rue Saint-Édouard","city":"Québec"')
    data = json.loads(text)
    assert data["totals"]["total"] == "2049.43" and data["deposit"]["amount"] == "512.36"
    assert data["format"] == "crewcommand.estimate.v3" and data["language"] == "fr-ca"
    assert canonical.sha256_hex(text) == PINNED_V3_SHA256, text
    # Format v2 is v3 without the language: its bytes, and so the hashes of signatures made
    # before v3, are unchanged (verification never re-serializes a stored snapshot anyway).
    del data["language"]
    data["format"] = "crewcommand.estimate.v2"
    assert canonical.sha256_hex(canonical.serialize(data)) == PINNED_SHA256
