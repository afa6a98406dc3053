"""The portal's guards below the views: draft documents stay off a customer-wide link, and the
answer services (accept, decline, ask for changes) re-check everything themselves when called
directly: the link is still usable, the estimate is the link's customer's, the revision is the
current, sent one. A revoke racing an accept never leaves an accept made on a revoked link."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from documents.models import Estimate, EstimateRevision, EstimateStatus
from documents.totals import Selection
from portal import services
from portal.forms import CONSENT_TEXT
from portal.models import PortalLink, Signature
from portal.signatures import typed_svg
from tests.factories import CompanyFactory, CustomerFactory, EstimateFactory, InvoiceFactory
from tests.portal.conftest import PHONE_UA
from tests.portal.helpers import issue

pytestmark = pytest.mark.django_db

REFUSED = (ServiceError, Estimate.DoesNotExist)


def _signature(name: str = "Alice Tremblay") -> services.SignatureIn:
    return services.SignatureIn(
        signer_name=name, method="typed", image_svg=typed_svg(name), consent_text=str(CONSENT_TEXT)
    )


def _accept(estimate, link, revision_number=None):
    return services.estimate_accept(
        estimate=estimate,
        link=link,
        revision_number=revision_number or estimate.current_revision.number,
        selection=Selection(),
        signature=_signature(),
        ip="203.0.113.9",
        user_agent="pytest",
    )


ANSWERS = {
    "accept": _accept,
    "decline": lambda estimate, link: services.estimate_decline(
        estimate=estimate, link=link, reason="Too dear"
    ),
    "changes": lambda estimate, link: services.estimate_request_changes(
        estimate=estimate, link=link, message="Cheaper tank?"
    ),
}


def _unanswered(estimate) -> None:
    estimate.refresh_from_db()
    assert estimate.status == EstimateStatus.SENT
    assert not Signature.objects.filter(estimate=estimate).exists()


# --- Drafts never reach a customer-wide link -----------------------------------------------------


def test_draft_invoices_and_estimates_stay_off_a_customer_wide_link(customer):
    sent_invoice, sent_estimate = (
        InvoiceFactory(customer=customer),
        EstimateFactory(customer=customer),
    )
    draft_invoice = InvoiceFactory(customer=customer, sent=False)
    draft_estimate = EstimateFactory(customer=customer, sent=False)
    issued = issue(customer)
    phone = Client(HTTP_USER_AGENT=PHONE_UA)

    home = phone.get(reverse("portal:home", args=[issued.token])).content.decode()
    assert sent_invoice.display_number in home and sent_estimate.display_number in home
    assert draft_invoice.display_number not in home
    assert draft_estimate.display_number not in home

    for name, doc in (
        ("portal:invoice", draft_invoice),
        ("portal:invoice_pdf", draft_invoice),
        ("billing_portal:pay_invoice", draft_invoice),
        ("portal:estimate", draft_estimate),
        ("portal:estimate_pdf", draft_estimate),
        ("portal:estimate_totals", draft_estimate),
    ):
        response = phone.get(reverse(name, args=[issued.token, doc.public_id]))
        assert response.status_code == 404, name
    for name, doc in (("portal:invoice", sent_invoice), ("portal:estimate", sent_estimate)):
        assert phone.get(reverse(name, args=[issued.token, doc.public_id])).status_code == 200


# --- The answer services, called directly ---------------------------------------------------------


@pytest.mark.parametrize("answer", ANSWERS)
def test_answers_through_a_revoked_link_are_refused(customer, answer):
    estimate = EstimateFactory(customer=customer)
    issued = issue(customer, estimate)
    services.link_revoke(link=PortalLink.objects.get(pk=issued.link.pk), actor=Actor.system())
    # The caller's copy of the link was loaded before the revoke: the service must look again.
    with pytest.raises(ServiceError):
        ANSWERS[answer](estimate, issued.link)
    _unanswered(estimate)


@pytest.mark.parametrize("answer", ANSWERS)
def test_answers_through_an_expired_link_are_refused(customer, answer):
    estimate = EstimateFactory(customer=customer)
    issued = issue(customer, estimate)
    PortalLink.objects.filter(pk=issued.link.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    with pytest.raises(ServiceError):
        ANSWERS[answer](estimate, PortalLink.objects.get(pk=issued.link.pk))
    _unanswered(estimate)


@pytest.mark.parametrize("answer", ANSWERS)
@pytest.mark.parametrize("owner_of_estimate", ["sibling", "stranger"])
def test_answers_to_another_customers_estimate_are_refused(
    company, customer, answer, owner_of_estimate
):
    other = CustomerFactory(company=company if owner_of_estimate == "sibling" else CompanyFactory())
    theirs = EstimateFactory(customer=other)
    issued = issue(customer)  # a customer-wide link of the first customer
    with pytest.raises(REFUSED):
        ANSWERS[answer](theirs, issued.link)
    _unanswered(theirs)


def test_accepting_a_revision_other_than_the_current_one_is_refused(customer):
    estimate = EstimateFactory(customer=customer)
    issued = issue(customer, estimate)
    # The contractor revised and re-sent: revision 2 is current and sent.
    first = estimate.current_revision
    second = EstimateRevision.objects.get(pk=first.pk)
    second.pk, second.number = None, 2
    second.save(force_insert=True)
    Estimate.objects.filter(pk=estimate.pk).update(current_revision=second)
    estimate = Estimate.objects.select_related("current_revision").get(pk=estimate.pk)
    with pytest.raises(ServiceError):
        _accept(estimate, issued.link, revision_number=1)
    _unanswered(estimate)
    _accept(estimate, issued.link, revision_number=2)  # the current one signs


def test_accepting_a_current_revision_that_was_never_sent_is_refused(customer):
    estimate = EstimateFactory(customer=customer)
    issued = issue(customer, estimate)
    EstimateRevision.objects.filter(pk=estimate.current_revision_id).update(sent_at=None)
    estimate = Estimate.objects.select_related("current_revision").get(pk=estimate.pk)
    with pytest.raises(ServiceError):
        _accept(estimate, issued.link)
    _unanswered(estimate)


# --- A revoke racing an accept --------------------------------------------------------------------


def _waiting_on_a_lock(pid: int) -> bool:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return bool(row) and row[0] == "Lock"


def _until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_revoke_racing_an_accept_never_leaves_an_accept_on_a_revoked_link(customer):
    """The worst interleaving, made deterministic: the accept has checked the link and is held
    on the estimate's row lock (taken here by a third connection) while the revoke runs. The
    revoke must either wait for the accept (which then happened first) or win, and then the
    accept must be refused. Never: a signature made after the link was revoked."""
    estimate = EstimateFactory(customer=customer)
    issued = issue(customer, estimate)
    pids, outcome = {}, {}
    holder_ready, release = threading.Event(), threading.Event()

    def hold_the_estimate() -> None:
        try:
            with transaction.atomic():
                Estimate.objects.select_for_update().filter(pk=estimate.pk).exists()
                holder_ready.set()
                release.wait(10)
        finally:
            connection.close()

    def accept() -> None:
        try:
            pids["accept"] = connection.cursor().connection.info.backend_pid
            outcome["accept"] = _accept(estimate, issued.link)
        except ServiceError as error:
            outcome["accept"] = error
        finally:
            connection.close()

    def revoke() -> None:
        try:
            pids["revoke"] = connection.cursor().connection.info.backend_pid
            outcome["revoke"] = services.link_revoke(link=issued.link, actor=Actor.system())
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_estimate)
    holder.start()
    holder_ready.wait(10)
    accepting = threading.Thread(target=accept)
    accepting.start()
    _until(lambda: "accept" in pids and _waiting_on_a_lock(pids["accept"]))
    revoking = threading.Thread(target=revoke)
    revoking.start()
    # Either the revoke finishes (nothing held it) or it queues behind the accept's link lock.
    _until(
        lambda: not revoking.is_alive() or ("revoke" in pids and _waiting_on_a_lock(pids["revoke"]))
    )
    release.set()
    for thread in (holder, accepting, revoking):
        thread.join(10)

    link = PortalLink.objects.get(pk=issued.link.pk)
    assert link.revoked_at is not None
    signature = Signature.objects.filter(estimate=estimate).first()
    if signature is not None:
        assert signature.signed_at < link.revoked_at, "accepted on a revoked link"
    else:
        assert isinstance(outcome["accept"], ServiceError)
