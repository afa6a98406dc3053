"""Portal test helpers: links, signing, and the accept form's data (documents come from
tests.factories)."""

from __future__ import annotations

import json

from crewcommand.lib.activity import Actor
from crewcommand.models import Customer
from documents.models import Estimate
from documents.totals import Selection
from portal import services
from portal.forms import CONSENT_TEXT
from portal.signatures import typed_svg
from tests import factories


def issue(customer: Customer, document=None, **kwargs) -> services.IssuedLink:
    return services.link_create(
        customer=customer, document=document, actor=Actor.system(), **kwargs
    )


def sign(estimate: Estimate, issued: services.IssuedLink, name: str = "Alice Tremblay"):
    return factories.sign(estimate, issued.link, name)


def strokes(points: int = 40) -> str:
    """A plausible pen stroke: a wave across a 300x150 canvas."""
    import math

    flat = []
    for i in range(points):
        flat += [10 + i * 6, 75 + 40 * math.sin(i / 4)]
    return json.dumps({"w": 300, "h": 150, "strokes": [flat, [20, 20, 60, 30, 100, 25]]})


def accept_data(estimate: Estimate, **overrides) -> dict:
    data = {
        "revision": str(estimate.current_revision.number),
        "signer_name": "Alice Tremblay",
        "method": "typed",
        "strokes": "",
        "consent": "on",
    }
    data.update(overrides)
    return data


def send_data(document, note: str = "") -> dict[str, str]:
    """What the send preview posts to send ``document`` (as loaded when the preview opened)."""
    return {"last_sent": services.sent_stamp(document), "note": note}


def sign_with_picks(estimate: Estimate, issued: services.IssuedLink, user_agent: str = "pytest"):
    """Signed through the real service with non-default picks (the tankless heater and the
    softener of ``EstimateFactory``'s options), so a wrong selection shows."""
    lines = {line.description: line for line in estimate.current_revision.lines.all()}
    return services.estimate_accept(
        estimate=estimate,
        link=issued.link,
        revision_number=estimate.current_revision.number,
        selection=Selection(
            frozenset({lines["Water softener"].public_id}),
            {"Water heater": lines["Tankless heater"].public_id},
        ),
        signature=services.SignatureIn(
            signer_name="Alice Tremblay",
            method="typed",
            image_svg=typed_svg("Alice Tremblay"),
            consent_text=str(CONSENT_TEXT),
        ),
        ip="203.0.113.9",
        user_agent=user_agent,
    )
