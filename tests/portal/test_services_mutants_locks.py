"""What the customer and the contractor see when the portal re-checks under its row locks, pinned
exactly: an answer refused on a revoked or expired link, on an estimate already accepted or
declined, being revised, or expired, each with its message in full; answering one of several
estimates answers that one; a Send refused because a colleague sent the document since the
preview, with the time they sent it; views gathered on a link keep the first and the latest
time; the first view marks the document viewed and says through which link."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from crewcommand.models import Activity
from documents.models import Estimate, EstimateRevision, EstimateStatus
from portal import services
from portal.models import PortalLink
from tests.factories import EstimateFactory
from tests.portal.helpers import issue, send_data

pytestmark = pytest.mark.django_db

LINK_GONE = "This link no longer works. Ask for a fresh link."
ACCEPTED = "This estimate has already been accepted."
DECLINED = "This estimate has already been declined."
UPDATING = "Maple Plumbing is updating this estimate. You'll receive the new version soon."


def _decline(estimate, link) -> Estimate:
    return services.estimate_decline(estimate=estimate, link=link, reason="Too dear")


def _refusal(estimate, link) -> str:
    with pytest.raises(ServiceError) as refused:
        _decline(estimate, link)
    return str(refused.value)


# --- Answers refused, worded in full ----------------------------------------------------------


def test_an_answer_through_a_revoked_link_is_refused_in_full(customer, estimate, estimate_link):
    services.link_revoke(link=estimate_link.link, actor=Actor.system())
    assert _refusal(estimate, estimate_link.link) == LINK_GONE
    assert Estimate.objects.get(pk=estimate.pk).status == EstimateStatus.SENT


def test_an_answer_through_an_expired_link_is_refused_in_full(customer, estimate, estimate_link):
    PortalLink.objects.filter(pk=estimate_link.link.pk).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    assert _refusal(estimate, estimate_link.link) == LINK_GONE


def test_an_estimate_already_accepted_cannot_be_answered_again(customer):
    accepted = EstimateFactory(customer=customer, signed=True)
    assert _refusal(accepted, issue(customer, accepted).link) == ACCEPTED


def test_an_estimate_already_declined_cannot_be_answered_again(customer, estimate, estimate_link):
    _decline(estimate, estimate_link.link)
    assert _refusal(estimate, estimate_link.link) == DECLINED


def test_an_estimate_being_revised_tells_the_customer_who_is_updating_it(
    customer, estimate, estimate_link
):
    Estimate.objects.filter(pk=estimate.pk).update(status=EstimateStatus.DRAFT)
    assert _refusal(estimate, estimate_link.link) == UPDATING


def test_an_expired_estimate_gives_its_date_and_whom_to_contact(customer, estimate, estimate_link):
    EstimateRevision.objects.filter(pk=estimate.current_revision_id).update(
        valid_until=dt.date(2026, 3, 5)
    )
    assert _refusal(estimate, estimate_link.link) == (
        "This estimate expired on 5 Mar 2026. Contact Maple Plumbing for a new one."
    )


def test_answering_one_of_the_customers_estimates_answers_that_one(customer, estimate):
    other = EstimateFactory(customer=customer)
    link = issue(customer).link  # a customer-wide link: both estimates are on it
    _decline(other, link)
    assert Estimate.objects.get(pk=other.pk).status == EstimateStatus.DECLINED
    assert Estimate.objects.get(pk=estimate.pk).status == EstimateStatus.SENT


def test_the_answer_locks_the_estimate_with_its_revision_and_company_in_one_read(
    customer, estimate, customer_link, django_assert_num_queries
):
    """Two reads through a customer-wide link (the link, then the estimate with its current
    revision and company): the answers use both without going back to the database."""
    with transaction.atomic(), django_assert_num_queries(2):
        locked = services._lock_answerable(estimate=estimate, link=customer_link.link)
        assert locked.current_revision.number == 1
        assert locked.company.name == "Maple Plumbing"


# --- A Send refused because the document went out since the preview -----------------------------


def _send_url(document) -> str:
    return reverse("documents:estimate_action", args=[document.public_id, "send"])


def _warnings(response) -> list[str]:
    """The warning toasts on the page, each in full."""
    found = re.findall(r'class="toast toast-warning"><span>(.*?)</span>', response.content.decode())
    return [html.unescape(text) for text in found]


def test_a_send_after_a_colleague_sent_gives_the_time_they_sent_it(
    owner_client, customer, django_capture_on_commit_callbacks
):
    draft = EstimateFactory(customer=customer, sent=False)
    preview = send_data(draft)  # the preview opened while it was a draft
    with django_capture_on_commit_callbacks(execute=True):
        services.estimate_deliver(estimate=draft, actor=Actor.system())  # a colleague sends
    # The colleague's Send, at 9:05 in the morning (Toronto, winter).
    sent = dt.datetime(2026, 1, 15, 14, 5, tzinfo=dt.UTC)
    Estimate.objects.filter(pk=draft.pk).update(sent_at=sent)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(_send_url(draft), preview, follow=True)
    assert _warnings(response) == [
        "This was sent at 9:05 a.m., after you opened the preview, so it was not sent twice."
    ]
    assert PortalLink.objects.filter(estimate=draft).count() == 1


def test_a_send_from_a_preview_of_a_send_that_is_not_on_record_asks_for_a_new_preview(
    customer,
):
    draft = EstimateFactory(customer=customer, sent=False)
    with pytest.raises(services.AlreadySent) as refused:
        services.estimate_deliver(
            estimate=draft, actor=Actor.system(), last_sent="1768485900000000"
        )
    assert str(refused.value) == "Open the preview again before sending."
    assert Estimate.objects.get(pk=draft.pk).sent_at is None
    assert not PortalLink.objects.exists()


# --- Views gathered on a link --------------------------------------------------------------------


def _views(link, count, first, last, device="phone") -> PortalLink:
    services.link_record_views(link_id=link.pk, count=count, first=first, last=last, device=device)
    return PortalLink.objects.get(pk=link.pk)


def test_views_keep_the_first_time_and_move_the_last_time_forward(customer, customer_link):
    morning = dt.datetime(2026, 1, 15, 14, 0, tzinfo=dt.UTC)
    link = _views(customer_link.link, 2, morning, morning + dt.timedelta(minutes=5))
    link = _views(
        link,
        3,
        morning + dt.timedelta(hours=2),
        morning + dt.timedelta(hours=3),
        device="desktop",
    )
    assert link.view_count == 5
    assert link.first_viewed_at == morning
    assert link.last_viewed_at == morning + dt.timedelta(hours=3)
    assert link.last_device == "desktop"


def test_views_flushed_late_never_move_the_last_time_back(customer, customer_link):
    noon = dt.datetime(2026, 1, 15, 17, 0, tzinfo=dt.UTC)
    link = _views(customer_link.link, 1, noon, noon)
    # Views from earlier in the morning, written after the noon one.
    link = _views(link, 2, noon - dt.timedelta(hours=3), noon - dt.timedelta(hours=2))
    assert link.view_count == 3
    assert link.last_viewed_at == noon
    # ...and the first view is the earliest one, whichever flush brought it.
    assert link.first_viewed_at == noon - dt.timedelta(hours=3)


# --- The first view marks the document viewed ----------------------------------------------------


def test_the_first_view_marks_the_estimate_viewed_and_names_the_link(
    customer, estimate, estimate_link
):
    assert services.document_mark_viewed(document=estimate, link=estimate_link.link) is True
    assert Estimate.objects.get(pk=estimate.pk).status == EstimateStatus.VIEWED
    [row] = Activity.objects.filter(verb="estimate.viewed")
    assert row.data == {
        "number": estimate.display_number,
        "reference": estimate_link.link.reference,
    }
    assert services.document_mark_viewed(document=estimate, link=estimate_link.link) is False
