"""Accepting and signing, pinned where it was loose: the refusals read exactly as written; a
step-up code is asked for on the total with the customer's picks and only a signing code of
this very link opens it; the signature record keeps its seal time, its contact (or none) and a
capped browser string; accepting closes an open change request; the activity entry lands on the
customer's history with its full data; the contractor's email carries the total in English
whatever language the customer signed in, the customer's name and the link to the estimate."""

from __future__ import annotations

import datetime as dt
import html

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone, translation

from crewcommand.models import Activity
from documents.models import Estimate, EstimateStatus
from documents.totals import Selection
from portal import services, stepup
from portal.forms import CONSENT_TEXT
from portal.models import CodeChallenge, PortalLink, Signature
from portal.signatures import typed_svg
from tests.portal.helpers import issue, sign

pytestmark = pytest.mark.django_db

SIGN_FIRST = "Enter the code we sent you first."


@pytest.fixture(autouse=True)
def _clean_limits():
    cache.clear()
    yield
    cache.clear()


def _fresh(estimate) -> Estimate:
    return Estimate.objects.select_related("customer", "company").get(pk=estimate.pk)


def _lines(estimate):
    return {line.description: line for line in estimate.current_revision.lines.all()}


def _picks(estimate) -> Selection:
    """Tankless heater and water softener, no expansion tank: $5,248.85 (defaults: $2,457.75)."""
    lines = _lines(estimate)
    return Selection(
        optional=frozenset({lines["Water softener"].public_id}),
        choices={"Water heater": lines["Tankless heater"].public_id},
    )


def _accept(
    estimate,
    link: PortalLink,
    *,
    selection: Selection | None = None,
    revision_number: int | None = None,
    challenge: CodeChallenge | None = None,
    user_agent: str = "pytest",
    name: str = "Alice Tremblay",
) -> Signature:
    return services.estimate_accept(
        estimate=estimate,
        link=link,
        revision_number=(
            estimate.current_revision.number if revision_number is None else revision_number
        ),
        selection=Selection() if selection is None else selection,
        signature=services.SignatureIn(
            signer_name=name,
            method="typed",
            image_svg=typed_svg(name),
            consent_text=str(CONSENT_TEXT),
        ),
        ip="203.0.113.9",
        user_agent=user_agent,
        challenge=challenge,
    )


def _challenge(link: PortalLink, purpose: str = "sign") -> CodeChallenge:
    """An open, unspent code challenge as ``stepup.code_check`` returns it once the code is right."""
    return CodeChallenge.objects.create(
        company=link.company,
        link=link,
        contact=link.contact,
        purpose=purpose,
        channel="sms",
        salt="s" * 32,
        code_hash="0" * 64,
        expires_at=timezone.now() + dt.timedelta(minutes=10),
    )


@pytest.fixture
def step_up_above_3000(company):
    """Codes for totals over $3,000.00: the defaults ($2,457.75) need none, the picks do."""
    company.step_up_required = True
    company.step_up_above = 3000
    company.save()
    return company


# --- Refusals ------------------------------------------------------------------------------------


def test_signing_an_older_revision_is_refused_in_the_exact_words(estimate, estimate_link):
    stale = estimate.current_revision.number + 1
    with pytest.raises(services.ServiceError) as refused:
        _accept(estimate, estimate_link.link, revision_number=stale)
    assert str(refused.value) == (
        f"{estimate.company.name} updated this estimate since you opened it. "
        "Review the new version, then sign."
    )
    assert _fresh(estimate).status != EstimateStatus.ACCEPTED
    assert not Signature.objects.exists()


def test_without_a_code_signing_is_refused_in_the_exact_words(
    step_up_above_3000, estimate, estimate_link
):
    with pytest.raises(stepup.CodeRefused) as refused:
        _accept(estimate, estimate_link.link, selection=_picks(estimate))
    assert str(refused.value) == SIGN_FIRST
    assert not Signature.objects.exists()


def test_the_code_threshold_applies_to_the_total_with_the_customers_picks(
    step_up_above_3000, estimate, estimate_link
):
    """The defaults come to $2,457.75, under the threshold; the picks, $5,248.85, over it."""
    with pytest.raises(stepup.CodeRefused):
        _accept(estimate, estimate_link.link, selection=_picks(estimate))
    assert _fresh(estimate).status != EstimateStatus.ACCEPTED
    record = _accept(_fresh(estimate), estimate_link.link)  # the defaults: no code asked
    assert record.step_up_channel == "" and record.step_up_verified_at is None


def test_a_paying_code_of_the_same_link_does_not_open_signing(
    step_up_above_3000, estimate, estimate_link
):
    paying = _challenge(estimate_link.link, purpose="pay")
    with pytest.raises(stepup.CodeRefused) as refused:
        _accept(estimate, estimate_link.link, selection=_picks(estimate), challenge=paying)
    assert str(refused.value) == SIGN_FIRST
    paying.refresh_from_db()
    assert paying.used_at is None
    assert not Signature.objects.exists()


def test_a_signing_code_of_another_link_does_not_open_signing(
    step_up_above_3000, estimate, estimate_link
):
    other = issue(estimate.customer, estimate)
    foreign = _challenge(other.link)
    with pytest.raises(stepup.CodeRefused) as refused:
        _accept(estimate, estimate_link.link, selection=_picks(estimate), challenge=foreign)
    assert str(refused.value) == SIGN_FIRST
    foreign.refresh_from_db()
    assert foreign.used_at is None
    assert not Signature.objects.exists()


def test_the_links_own_signing_code_opens_signing_and_is_spent(
    step_up_above_3000, estimate, estimate_link
):
    code = _challenge(estimate_link.link)
    record = _accept(estimate, estimate_link.link, selection=_picks(estimate), challenge=code)
    code.refresh_from_db()
    assert code.used_at is not None and record.step_up_verified_at == code.used_at
    assert record.step_up_channel == "sms"
    assert _fresh(estimate).status == EstimateStatus.ACCEPTED


# --- The signature record ------------------------------------------------------------------------


def test_the_record_is_sealed_at_the_moment_of_signing(estimate, estimate_link):
    sign(estimate, estimate_link)
    record = Signature.objects.get(estimate=estimate)
    assert record.sealed_at is not None and record.sealed_at == record.signed_at
    assert services.signature_verify(signature=record).ok


def test_a_link_given_to_nobody_in_particular_signs_with_no_contact_name(estimate, estimate_link):
    link = estimate_link.link
    PortalLink.objects.filter(pk=link.pk).update(contact=None)
    link.refresh_from_db()
    record = _accept(estimate, link)
    record.refresh_from_db()
    assert record.contact is None and record.contact_name == ""
    assert record.signer_name == "Alice Tremblay"


def test_the_browser_string_is_kept_to_its_first_500_characters(estimate, estimate_link):
    agent = "Mozilla/5.0 " + "x" * 600
    _accept(estimate, estimate_link.link, user_agent=agent)
    assert Signature.objects.get(estimate=estimate).user_agent == agent[:500]


def test_accepting_closes_an_open_change_request(estimate, estimate_link):
    services.estimate_request_changes(
        estimate=estimate, link=estimate_link.link, message="Copper instead of PEX?"
    )
    estimate = _fresh(estimate)
    assert estimate.open_change_request
    _accept(estimate, estimate_link.link)
    estimate = _fresh(estimate)
    assert estimate.status == EstimateStatus.ACCEPTED
    assert estimate.changes_message == "" and estimate.changes_requested_at is None
    assert not estimate.open_change_request


# --- The activity entry --------------------------------------------------------------------------


def test_the_acceptance_is_logged_on_the_customer_with_its_number_revision_link_and_fingerprint(
    owner_client, estimate, estimate_link
):
    record = _accept(estimate, estimate_link.link, selection=_picks(estimate))
    row = Activity.objects.get(
        verb="estimate.accepted",
        target_type=ContentType.objects.get_for_model(Estimate),
        target_id=estimate.pk,
    )
    assert row.customer_id == estimate.customer_id
    assert row.data == {
        "number": estimate.display_number,
        "revision": estimate.current_revision.number,
        "reference": estimate_link.link.reference,
        "sha256": record.content_sha256,
    }
    page = owner_client.get(
        reverse("dashboard:customer_detail", args=[estimate.customer.public_id])
    )
    history = html.unescape(page.content.decode())
    assert f"Alice Tremblay accepted and signed estimate {estimate.display_number}" in history


# --- The contractor's emails ---------------------------------------------------------------------


def test_the_acceptance_email_gives_the_total_in_english_and_links_to_the_estimate(
    estimate, estimate_link, django_capture_on_commit_callbacks
):
    """The customer signed on a French page: the contractor's mail is English all the same."""
    with django_capture_on_commit_callbacks(execute=True), translation.override("fr-ca"):
        _accept(estimate, estimate_link.link, selection=_picks(estimate))
    [email] = mail.outbox
    assert email.to == [estimate.company.email]
    assert (
        email.subject == f"Alice Tremblay accepted estimate {estimate.display_number} ($5,248.85)"
    )
    assert f"Alice Tremblay accepted and signed estimate {estimate.display_number}." in email.body
    assert "Accepted total, with the options chosen: $5,248.85" in email.body
    link = settings.SITE_URL + estimate.get_absolute_url()
    assert f"See the signature and audit trail:\n{link}\n" in email.body


def test_the_change_request_email_names_the_customer_and_links_to_the_estimate(
    estimate, estimate_link, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.estimate_request_changes(
            estimate=estimate, link=estimate_link.link, message="Copper instead of PEX?"
        )
    [email] = mail.outbox
    link = settings.SITE_URL + estimate.get_absolute_url()
    assert email.body.startswith(
        f"Alice Tremblay asked for changes to estimate {estimate.display_number}:\n"
    )
    assert f"Revise the estimate and send it again:\n{link}\n" in email.body
