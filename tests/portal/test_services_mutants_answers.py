"""What the customer's answers leave behind for the contractor, and what "Verify signature"
reports, pinned exactly: a decline clears an open change request; both answers land on the
estimate's "From the customer" panel and on the customer's history, worded in full, and keep
the link they came through on record; the signature panel lists only the options picked; each
verification problem reads as written, and a plain signature with non-default picks verifies."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.urls import reverse

from crewcommand.models import Activity
from documents.models import Estimate, EstimateStatus
from portal import services
from portal.models import PortalLink, Signature
from tests.portal.helpers import sign, sign_with_picks

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
REASON = "Went with another quote."
MESSAGE = "Could you quote copper pipe instead of PEX?"

OPTIONS_DIFFER = "The estimate's accepted options differ from the signed ones."
NOT_ACCEPTED = "The estimate is no longer marked accepted with the signed revision."
LINK_DIFFERS = "The link on record differs from the link used to sign."
FINGERPRINT = "The signed content does not match its SHA-256 fingerprint."
UNREADABLE = "The signed content cannot be read."
FORMAT = "The signed content is in an unexpected format."
LINES_DIFFER = "The revision's lines, prices, options, terms or totals differ from what was signed."
UNSEALED = "The record has no seal."
BAD_SEAL = str(services.SEAL_PROBLEMS["bad-seal"])


def _fresh(estimate) -> Estimate:
    return Estimate.objects.select_related("customer", "company").get(pk=estimate.pk)


def _decline(estimate, issued, reason=REASON):
    return services.estimate_decline(estimate=estimate, link=issued.link, reason=reason)


def _ask(estimate, issued, message=MESSAGE):
    return services.estimate_request_changes(estimate=estimate, link=issued.link, message=message)


def _links_panel(owner_client, estimate) -> str:
    """The customer-links panel of the contractor's estimate page (loaded by htmx)."""
    url = reverse("portal_dashboard:links_panel", args=["estimate", estimate.public_id])
    return owner_client.get(url, **HTMX).content.decode()


def _from_the_customer(owner_client, estimate) -> list[str]:
    """The panel's "From the customer" list, one entry a line."""
    page = _links_panel(owner_client, estimate)
    assert "From the customer" in page
    panel = page[page.index("From the customer") :]
    panel = panel[: panel.index("</ol>")]
    items = re.findall(r"<li><time[^>]*>[^<]*</time>(.*?)</li>", panel, re.S)
    return [html.unescape(item).strip() for item in items]


def _customer_history(owner_client, customer) -> str:
    page = owner_client.get(reverse("dashboard:customer_detail", args=[customer.public_id]))
    return html.unescape(page.content.decode())


def _answer(verb: str, estimate) -> Activity:
    return Activity.objects.get(
        verb=verb,
        target_type=ContentType.objects.get_for_model(Estimate),
        target_id=estimate.pk,
    )


# --- Declining -----------------------------------------------------------------------------------


def test_declining_after_asking_for_changes_closes_the_change_request(estimate, estimate_link):
    _ask(estimate, estimate_link)
    _decline(_fresh(estimate), estimate_link)
    estimate = _fresh(estimate)
    assert estimate.status == EstimateStatus.DECLINED
    assert estimate.decline_reason == REASON
    assert estimate.changes_message == "" and estimate.changes_requested_at is None
    assert not estimate.open_change_request


def test_a_decline_shows_on_the_estimate_and_the_customers_history_in_full(
    owner_client, estimate, estimate_link
):
    _decline(estimate, estimate_link)
    number = estimate.display_number
    sentence = f"Alice Tremblay declined estimate {number}"
    assert _from_the_customer(owner_client, estimate) == [f"{sentence}: “{REASON}”"]
    assert sentence in _customer_history(owner_client, estimate.customer)


def test_a_decline_keeps_the_link_it_came_through_on_record(estimate, estimate_link):
    _decline(estimate, estimate_link)
    row = _answer("estimate.declined", estimate)
    assert row.customer_id == estimate.customer_id
    assert row.data == {
        "number": estimate.display_number,
        "reason": REASON,
        "reference": estimate_link.link.reference,
    }


def test_the_decline_email_names_the_customer_the_estimate_and_the_reason(
    estimate, estimate_link, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _decline(estimate, estimate_link)
    [email] = mail.outbox
    assert email.to == [estimate.company.email]
    assert f"Alice Tremblay declined estimate {estimate.display_number}." in email.body
    assert f"Their reason:\n{REASON}" in email.body


# --- Asking for changes --------------------------------------------------------------------------


def test_a_change_request_shows_on_the_estimate_and_the_customers_history_in_full(
    owner_client, estimate, estimate_link
):
    _ask(estimate, estimate_link)
    sentence = f"Alice Tremblay asked for changes to estimate {estimate.display_number}"
    assert _from_the_customer(owner_client, estimate) == [f"{sentence}: “{MESSAGE}”"]
    assert sentence in _customer_history(owner_client, estimate.customer)


def test_a_change_request_keeps_the_link_it_came_through_on_record(estimate, estimate_link):
    _ask(estimate, estimate_link)
    row = _answer("estimate.changes_requested", estimate)
    assert row.customer_id == estimate.customer_id
    assert row.data == {
        "number": estimate.display_number,
        "message": MESSAGE,
        "reference": estimate_link.link.reference,
    }


# --- The signature panel -------------------------------------------------------------------------


def test_the_signature_lists_only_the_package_option_picked(owner_client, estimate, estimate_link):
    signature = sign_with_picks(estimate, estimate_link)
    summary = [
        "Water heater: Tankless heater",
        "Not added: Expansion tank",
        "Added: Water softener",
    ]
    assert sorted(signature.selection_summary) == sorted(summary)
    page = html.unescape(_links_panel(owner_client, estimate))
    assert "Water heater: Tankless heater" in page
    assert "Water heater: 50-gallon tank" not in page


# --- Verify signature ----------------------------------------------------------------------------


def _problems(owner_client, signature) -> list[str]:
    """The problems "Verify signature" lists on the contractor's dashboard, as read."""
    verify = reverse("portal_dashboard:signature_verify", args=[signature.public_id])
    body = owner_client.get(verify, **HTMX).content.decode()
    block = re.search(r'<div id="verification"[^>]*>(.*?)</div>', body, re.S)
    assert block, "no verification block"
    return [html.unescape(p) for p in re.findall(r"<li>(.*?)</li>", block.group(1), re.S)]


def _tamper(signature, **fields) -> Signature:
    Signature.objects.filter(pk=signature.pk).update(**fields)
    return Signature.objects.get(pk=signature.pk)


def test_a_signature_with_non_default_picks_verifies(owner_client, estimate, estimate_link):
    signature = sign_with_picks(estimate, estimate_link)
    assert _problems(owner_client, signature) == []
    assert services.signature_verify(signature=signature).ok


def test_changed_accepted_options_are_reported(owner_client, estimate, estimate_link):
    signature = sign(estimate, estimate_link)
    Estimate.objects.filter(pk=estimate.pk).update(accepted_selection={"optional": []})
    assert _problems(owner_client, signature) == [OPTIONS_DIFFER]


def test_an_estimate_no_longer_accepted_is_reported(owner_client, estimate, estimate_link):
    """Only that: the signed snapshot is still checked against the signature's own picks (not
    the defaults an estimate that is not accepted would show)."""
    signature = sign_with_picks(estimate, estimate_link)
    Estimate.objects.filter(pk=estimate.pk).update(status=EstimateStatus.SENT)
    assert _problems(owner_client, signature) == [NOT_ACCEPTED]


def test_a_changed_link_reference_is_reported(owner_client, estimate, estimate_link):
    signature = sign(estimate, estimate_link)
    PortalLink.objects.filter(pk=estimate_link.link.pk).update(reference="L-ZZZZ")
    assert _problems(owner_client, signature) == [LINK_DIFFERS]


def test_a_changed_fingerprint_is_reported(owner_client, estimate, estimate_link):
    signature = _tamper(sign(estimate, estimate_link), content_sha256="0" * 64)
    assert _problems(owner_client, signature) == [BAD_SEAL, FINGERPRINT]


def test_unreadable_signed_content_is_reported(owner_client, estimate, estimate_link):
    signature = _tamper(sign(estimate, estimate_link), canonical_json="{not json")
    assert _problems(owner_client, signature) == [BAD_SEAL, FINGERPRINT, UNREADABLE]


def test_signed_content_in_an_unexpected_format_is_reported(owner_client, estimate, estimate_link):
    signature = sign(estimate, estimate_link)
    snapshot = json.loads(signature.canonical_json)
    snapshot["format"] = "something-else/9"
    signature = _tamper(signature, canonical_json=json.dumps(snapshot))
    assert _problems(owner_client, signature) == [BAD_SEAL, FINGERPRINT, FORMAT]


def test_changed_revision_lines_are_reported(owner_client, estimate, estimate_link):
    signature = sign(estimate, estimate_link)
    first = signature.revision.lines.first()
    type(first).objects.filter(pk=first.pk).update(unit_price="1.00")
    assert _problems(owner_client, signature) == [LINES_DIFFER]


def test_an_unsealed_record_is_reported(owner_client, estimate, estimate_link):
    signature = _tamper(sign(estimate, estimate_link), seal="")
    assert _problems(owner_client, signature) == [UNSEALED]


def test_the_verification_carries_the_fingerprint_of_the_content_as_stored_now(
    estimate, estimate_link
):
    signature = _tamper(sign(estimate, estimate_link), canonical_json="{not json")
    result = services.signature_verify(signature=signature)
    assert result.stored_sha256 == signature.content_sha256
    assert result.computed_sha256 == services.canonical.sha256_hex("{not json")
    assert result.computed_sha256 != result.stored_sha256
