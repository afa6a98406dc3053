"""Email over real SMTP (Django's backend on ``crewcommand.messaging.smtp``, smtplib against
tests/fakes/smtp_server.py): the row is marked handed in the transaction that writes the end
of DATA; a handed row is never sent again; refusals and drops before the end are retried."""

from __future__ import annotations

import smtplib
import time

import pytest
from django.utils import timezone

from crewcommand.messaging import channels, outbox, queue
from crewcommand.messaging.smtp import HandOffSMTP
from crewcommand.models import Message, MessageStatus
from crewcommand.settings import _mailers_from_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp_mailer(settings, fake_smtp):
    settings.MAILERS = {"default": _mailers_from_url(fake_smtp.url)}
    return fake_smtp


def _queued(company, body="Hello there", to="ana@example.com") -> Message:
    message = queue(company=company, channel="email", to=to, subject="Hi", body=body)
    return message


def test_the_smtp_url_uses_the_hand_off_backend(fake_smtp):
    backend = _mailers_from_url(fake_smtp.url)["BACKEND"]
    assert backend == "crewcommand.messaging.smtp.EmailBackend"


def test_an_email_is_delivered_once_and_recorded_sent(company, smtp_mailer):
    message = _queued(company, body="Line one\n.starts with a dot\nend")
    assert outbox.send(message.pk) == MessageStatus.SENT
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.handed_at is None and message.last_error == ""
    assert len(smtp_mailer.received) == 1
    got = smtp_mailer.received[0].email
    assert got["Message-ID"] == message.provider_id == channels.email_message_id(message)
    assert ".starts with a dot" in got.get_payload(decode=True).decode()  # dot-unquoted


def test_the_row_is_marked_handed_in_the_transaction_that_ends_the_message(company, smtp_mailer):
    """Inside the hook, before the terminator: the row is handed (uncommitted) and the server
    has nothing yet; right after it, the server can take the message."""
    message = _queued(company)
    claimed = outbox.claim(message.pk)
    seen: dict[str, object] = {}
    hook = outbox._email_hand_off(claimed)

    def spy(write_terminator):
        def write():
            seen["handed"] = Message.objects.get(pk=message.pk).handed_at
            seen["received_before"] = len(smtp_mailer.received)
            write_terminator()

        hook(write)

    provider_id = channels.send_email(claimed, outbox.full_text(claimed), hand_off=spy)
    assert seen["handed"] is not None
    assert seen["received_before"] == 0
    assert len(smtp_mailer.received) == 1
    assert provider_id == channels.email_message_id(message)


def test_a_row_already_handed_is_recorded_sent_not_sent_again(company, smtp_mailer):
    message = _queued(company)
    handed = timezone.now()
    Message.objects.filter(pk=message.pk).update(handed_at=handed)
    assert outbox.send(message.pk) == MessageStatus.SENT
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.handed_at == handed
    assert "not sent again" in message.last_error
    assert message.provider_id == channels.email_message_id(message)
    assert smtp_mailer.received == []


@pytest.mark.parametrize("reply", ["554 5.7.1 Rejected as spam", "451 4.3.0 Try again later"])
def test_a_refusal_after_the_end_of_data_is_retried_and_the_hand_off_cleared(
    company, smtp_mailer, reply
):
    smtp_mailer.data_reply = reply
    message = _queued(company)
    assert outbox.send(message.pk) == MessageStatus.QUEUED
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert message.handed_at is None
    assert "SMTPDataError" in message.last_error
    assert message.next_retry_at is not None
    smtp_mailer.data_reply = ""
    Message.objects.filter(pk=message.pk).update(send_after=timezone.now())
    assert outbox.send(message.pk) == MessageStatus.SENT
    assert len(smtp_mailer.received) == 1


def test_a_server_gone_before_the_end_of_data_is_retried(company, smtp_mailer):
    smtp_mailer.drop_in_data = True
    message = _queued(company)
    assert outbox.send(message.pk) == MessageStatus.QUEUED
    message.refresh_from_db()
    assert message.handed_at is None
    assert message.last_error.startswith(("SMTPServerDisconnected", "SMTP"))
    assert smtp_mailer.received == []


def test_a_server_that_closes_while_the_hook_runs_is_not_counted_as_handed(company, smtp_mailer):
    """The close arrives before the terminator is written: the hand-off is rolled back."""
    smtp_mailer.drop_in_data = True
    message = _queued(company)
    claimed = outbox.claim(message.pk)
    hook = outbox._email_hand_off(claimed)

    def slow(write_terminator):
        time.sleep(0.2)  # the server's close is in by now
        hook(write_terminator)

    with pytest.raises(smtplib.SMTPServerDisconnected):
        channels.send_email(claimed, outbox.full_text(claimed), hand_off=slow)
    assert Message.objects.get(pk=message.pk).handed_at is None


def test_a_server_silent_after_the_whole_message_means_sent_with_a_note(company, smtp_mailer):
    smtp_mailer.drop_after_data = True
    message = _queued(company)
    assert outbox.send(message.pk) == MessageStatus.SENT
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.handed_at is not None
    assert "not sent again" in message.last_error
    assert len(smtp_mailer.received) == 1


def test_a_row_taken_over_by_another_worker_is_abandoned_before_its_end(company, smtp_mailer):
    message = _queued(company)
    claimed = outbox.claim(message.pk)
    # The lease ran out and another worker claimed it meanwhile.
    Message.objects.filter(pk=message.pk).update(claimed_at=timezone.now())
    assert outbox._send_claimed(claimed) == "skipped"
    channels.close_mailers()
    assert Message.objects.get(pk=message.pk).handed_at is None
    assert smtp_mailer.received == []
    deadline = time.monotonic() + 2
    while smtp_mailer.discarded == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert smtp_mailer.discarded == 1


def test_without_a_hand_off_the_connection_class_is_plain_smtp(smtp_mailer):
    with HandOffSMTP(smtp_mailer.host, smtp_mailer.port, timeout=5) as connection:
        connection.sendmail("a@example.com", ["b@example.com"], b"Subject: x\r\n\r\nbody\r\n")
    assert len(smtp_mailer.received) == 1


def test_the_smtp_connection_is_kept_for_the_next_message_and_renewed_when_dropped(
    company, smtp_mailer
):
    first, second, third = (
        _queued(company, body=f"m{n}", to=f"m{n}@example.com") for n in (1, 2, 3)
    )
    assert outbox.send(first.pk) == MessageStatus.SENT
    assert outbox.send(second.pk) == MessageStatus.SENT
    assert smtp_mailer.connections == 1  # one connection, two messages
    smtp_mailer.hang_up()  # the server drops the idle connection
    time.sleep(0.1)
    assert outbox.send(third.pk) == MessageStatus.SENT
    assert smtp_mailer.connections == 2
    assert sorted(
        r.email.get_payload(decode=True).decode().strip() for r in smtp_mailer.received
    ) == ["m1", "m2", "m3"]
