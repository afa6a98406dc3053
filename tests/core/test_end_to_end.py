"""Real parts end to end: a Celery worker on Redis, and Chromium driving the dashboard."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from crewcommand import services
from crewcommand.notifications import send_invitation
from tests.worker import wait_for


@pytest.mark.worker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_invitation_email_is_sent_by_a_real_worker_after_commit(celery_worker_process, owner):
    invitation = services.invitation_create(
        company=owner.company, by=owner.user, email="crew@example.com", role="technician"
    )
    send_invitation(invitation=invitation)
    mail_dir = celery_worker_process["mail_dir"]

    def email_written():
        # The file backend ends each message with a line of 79 dashes: wait for a whole one.
        texts = [p.read_text() for p in mail_dir.glob("*.log")]
        # The directory is the session's worker's: other tests' messages may be there too.
        return [t for t in texts if "-" * 79 in t and "crew@example.com" in t]

    (message,) = wait_for(email_written)
    assert "To: crew@example.com" in message
    assert "/invite/" in message
    assert "crew@example.com" not in celery_worker_process["log"].read_text()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_owner_logs_in_and_sees_the_dashboard(live_server, page, owner, job, csp_violations):
    page.goto(f"{live_server.url}{reverse('dashboard:home')}")
    # The field says Email, and the address is matched in any case.
    page.get_by_label("Email").fill(owner.user.email.upper())
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/app/$"))
    assert page.get_by_role("heading", name=re.compile("Good to see you")).is_visible()
    page.get_by_role("link", name="Jobs").first.click()
    assert page.get_by_role("link", name="Replace water heater").is_visible()
    # htmx search swaps the results without a reload.
    page.get_by_label("Search jobs").fill("nothing-matches")
    page.get_by_text("No jobs match this filter.").wait_for()
    assert not [e for e in csp_violations if "Content Security Policy" in e]
