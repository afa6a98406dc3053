"""Issue 12, point 13: "Ask for changes" gives the estimate its own status, *changes requested*,
shown everywhere statuses are; the contractor's estimate page shows the customer's message up
front, and the customer's page says the request went and what happens next. The status ends
when a revised version is sent, or when the customer accepts or declines."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crewcommand.lib.activity import Actor
from documents import services as documents_services
from documents.models import EstimateStatus
from portal import services
from tests.portal.helpers import sign

pytestmark = pytest.mark.django_db

MESSAGE = "Could you quote copper pipe instead of PEX?\nAnd start in May."


def _url(name, issued, estimate):
    return reverse(f"portal:{name}", args=[issued.token, estimate.public_id])


def _ask(phone, estimate_link, estimate, message=MESSAGE):
    return phone.post(_url("estimate_changes", estimate_link, estimate), {"message": message})


def test_asking_for_changes_sets_the_status_and_keeps_the_message(phone, estimate, estimate_link):
    response = _ask(phone, estimate_link, estimate)
    assert response.status_code == 302
    estimate.refresh_from_db()
    assert estimate.status == EstimateStatus.CHANGES_REQUESTED
    assert estimate.display_status_label == "Changes requested"
    assert estimate.changes_message == MESSAGE
    assert estimate.changes_requested_at is not None
    assert estimate.open_change_request


def test_the_customer_is_told_the_request_went_and_what_happens_next(
    phone, estimate, estimate_link
):
    response = _ask(phone, estimate_link, estimate)
    body = phone.get(response["Location"]).content.decode()
    assert f"Your request for changes was sent to {estimate.company.name}." in body
    assert "Could you quote copper pipe instead of PEX?" in body
    assert "What happens next" in body and "revised estimate" in body
    assert "Changes requested" in body  # the badge and the history
    # Later visits (no ?done=) still say so, and the customer may still sign this version.
    later = phone.get(_url("estimate", estimate_link, estimate)).content.decode()
    assert "You asked Maple Plumbing for changes on" in later
    assert "Accept and sign" in later


def test_the_contractor_sees_the_status_and_the_message_up_front(
    owner_client, phone, estimate, estimate_link
):
    _ask(phone, estimate_link, estimate)
    detail = owner_client.get(estimate.get_absolute_url()).content.decode()
    alert = detail[detail.index('id="change-request"') :]
    alert = alert[: alert.index("</section>")]
    assert "Alice Tremblay asked for changes on" in alert
    assert "Could you quote copper pipe instead of PEX?" in alert
    assert "Revise" in alert
    assert 'class="badge badge-changes_requested">Changes requested<' in detail

    listing = owner_client.get(reverse("documents:estimate_list")).content.decode()
    assert "badge-changes_requested" in listing
    # A filter chip of its own, which finds it and nothing else.
    assert "?status=changes_requested" in listing
    only = owner_client.get(reverse("documents:estimate_list") + "?status=changes_requested")
    assert estimate.display_number in only.content.decode()
    viewed = owner_client.get(reverse("documents:estimate_list") + "?status=viewed")
    assert estimate.display_number not in viewed.content.decode()

    home = owner_client.get(reverse("dashboard:home")).content.decode()
    assert "badge-changes_requested" in home  # still awaiting an answer, with its status


def test_the_dashboard_badge_keeps_polling_while_changes_are_requested(
    owner_client, phone, estimate, estimate_link
):
    _ask(phone, estimate_link, estimate)
    url = reverse("portal_dashboard:status_badge", args=["estimate", estimate.public_id])
    response = owner_client.get(url + "?was=viewed", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "Changes requested" in body and "every 10s" in body
    assert response["HX-Trigger"] == "portal-status-changed"


def test_sending_a_revised_version_ends_the_request(owner, phone, estimate, estimate_link):
    _ask(phone, estimate_link, estimate)
    actor = Actor.member(owner.user)
    # Sending the same version again does not answer the request.
    documents_services.estimate_send(estimate=estimate, actor=actor)
    estimate.refresh_from_db()
    assert estimate.status == EstimateStatus.CHANGES_REQUESTED
    # Revising: a draft, still showing the request to the contractor and the customer.
    documents_services.estimate_revise(estimate=estimate, actor=actor)
    estimate.refresh_from_db()
    assert estimate.status == EstimateStatus.DRAFT and estimate.open_change_request
    page = phone.get(_url("estimate", estimate_link, estimate)).content.decode()
    assert "preparing a new version in answer to your request for changes" in page
    # The new version goes out: the request is answered.
    documents_services.estimate_send(estimate=estimate, actor=actor)
    estimate.refresh_from_db()
    assert estimate.status == EstimateStatus.SENT
    assert not estimate.open_change_request and estimate.changes_message == ""


def test_the_customer_may_still_accept_and_that_ends_the_request(phone, estimate, estimate_link):
    _ask(phone, estimate_link, estimate)
    sign(estimate, estimate_link)
    estimate.refresh_from_db()
    assert estimate.status == EstimateStatus.ACCEPTED
    assert estimate.changes_requested_at is None and not estimate.open_change_request


def test_declining_ends_the_request(phone, estimate, estimate_link):
    _ask(phone, estimate_link, estimate)
    services.estimate_decline(estimate=estimate, link=estimate_link.link, reason="Too dear")
    estimate.refresh_from_db()
    assert estimate.status == EstimateStatus.DECLINED
    assert estimate.changes_requested_at is None


def test_a_new_message_replaces_the_open_one(phone, estimate, estimate_link):
    _ask(phone, estimate_link, estimate)
    _ask(phone, estimate_link, estimate, message="Actually, PEX is fine.")
    estimate.refresh_from_db()
    assert estimate.status == EstimateStatus.CHANGES_REQUESTED
    assert estimate.changes_message == "Actually, PEX is fine."


def test_an_estimate_with_changes_requested_past_its_date_is_expired(
    phone, estimate, estimate_link
):
    import datetime as dt

    from django.utils import timezone

    _ask(phone, estimate_link, estimate)
    revision = estimate.current_revision
    revision.valid_until = timezone.localdate() - dt.timedelta(days=1)
    revision.save(update_fields=["valid_until"])
    estimate.refresh_from_db()
    assert estimate.display_status == EstimateStatus.EXPIRED
