"""The outbox: write a Message row now, send it from a worker after commit, exactly once.

Claiming: the task turns ``queued`` into ``sending`` with one conditional UPDATE (``attempts``
+1, ``claimed_at`` now); only the worker whose UPDATE matched sends, so two workers (a
redelivered task, a beat re-enqueue, a second press) never send one row. After the provider
accepted it the row becomes ``sent`` at once, in autocommit.

Recovery: ``requeue_due`` (beat) enqueues rows still ``queued`` a little past their time (the
broker was down at commit, or the task was lost) and puts rows left in ``sending`` longer than
the lease (the worker was killed) back to ``queued``. Email over SMTP is marked handed
(``handed_at``) in the transaction that writes the end of DATA (``crewcommand.messaging.smtp``),
so a worker killed mid-send repeats it only if killed in the microseconds between that write
and COMMIT; a re-claimed email already handed is recorded as sent, not sent again. Texts are
looked up at Twilio before a second attempt (``_send_sms_once``). See README, "Messaging".

Retries: transient errors (network, provider 5xx/429) go back to ``queued`` with exponential
backoff, up to ``MAX_ATTEMPTS``; permanent ones (invalid number, unsubscribed, refused
recipient) are ``failed`` at once with the provider's code and message.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from crewcommand.lib.logging import REDACTED, redact
from crewcommand.lib.sealed import SealError, seal, unseal
from crewcommand.models import Channel, Company, Customer, Message, MessageKind, MessageStatus

logger = logging.getLogger(__name__)

SEAL_PURPOSE = "crewcommand.messaging.outbox.v1"
# A sealed message older than this is not sent (its links would be long expired anyway).
SEAL_MAX_AGE = 90 * 24 * 3600
MAX_ATTEMPTS = 8
# A task is queued with a countdown only for messages due this soon; later ones wait for beat.
ETA_HORIZON = dt.timedelta(hours=1)
# Beat re-enqueues queued rows this late (their own task normally takes them sooner). Short, so
# messages committed just before Redis came back go out within a minute of its return (beat's
# period 10 s + this + the drain); in a backlog longer than this a row gets one extra task
# (skipped by the claim), not more (``requeue_again``).
REQUEUE_GRACE = dt.timedelta(seconds=10)


def requeue_again() -> dt.timedelta:
    """A row beat already handed to the broker is handed again only after this long
    (``MESSAGING_REQUEUE_AGAIN_SECONDS``, 120): long enough for a backlog to drain, short
    enough that a task lost with a killed worker is soon replaced."""
    return dt.timedelta(seconds=settings.MESSAGING_REQUEUE_AGAIN_SECONDS)


class TransientError(Exception):
    """The provider may accept the message later: retry with backoff."""


class Unanswered(Exception):
    """The whole email reached the mail server, which did not answer (connection lost after
    the end of DATA): it may have the message, so it is not sent again."""

    def __init__(self, message_id: str) -> None:
        super().__init__(message_id)
        self.message_id = message_id


class ClaimLost(Exception):
    """At the hand-off the row was no longer this worker's (another claimed it after the
    lease): the message is abandoned before its end."""


class PermanentError(Exception):
    """The provider will never accept this message: fail it now."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


def lease() -> dt.timedelta:
    """How long a row may stay ``sending`` before it is presumed abandoned (longer than a
    task may run, so a live worker is never overtaken)."""
    return dt.timedelta(seconds=settings.MESSAGING_SENDING_LEASE_SECONDS)


def queue(
    *,
    company: Company,
    channel: str,
    to: str,
    subject: str = "",
    body: str,
    html: str = "",
    customer: Customer | None = None,
    concerning: models.Model | None = None,
    kind: str = MessageKind.TRANSACTIONAL,
    template: str = "",
    send_after: dt.datetime | None = None,
    key: str = "",
    secrets: tuple[str, ...] = (),
) -> Message:
    """Write an outbox row and send it after commit (see ``crewcommand.messaging``).
    ``secrets``: strings that are not links but must not be readable at rest either (a
    one-time code): redacted from the readable copy, so the text is kept sealed."""
    from crewcommand.messaging import channels

    if channel not in Channel.values:
        raise ValueError(f"Unknown channel {channel!r}")
    if kind not in MessageKind.values:
        raise ValueError(f"Unknown message kind {kind!r}")
    now = timezone.now()
    due = max(send_after or now, now)
    if channel == Channel.SMS:
        to = channels.sms_address(to)
        due = channels.after_quiet_hours(company, due)
    else:
        to = to.strip()

    def hide(text: str) -> str:
        text = redact(text)
        for secret in secrets:
            if secret:
                text = text.replace(secret, REDACTED)
        return text

    readable = {"subject": hide(subject), "body": hide(body), "html": hide(html)}
    full = {"subject": subject, "body": body, "html": html}
    sealed = "" if readable == full else seal(json.dumps(full), purpose=SEAL_PURPOSE)
    fields: dict[str, Any] = {
        "company": company,
        "channel": channel,
        "to": to,
        "subject": readable["subject"][:300],
        "body": readable["body"],
        "html": readable["html"],
        "sealed": sealed,
        "customer": customer,
        "kind": kind,
        "template": template,
        "key": key,
        "send_after": due,
    }
    if concerning is not None:
        fields["concerning_type"] = ContentType.objects.get_for_model(concerning)
        fields["concerning_id"] = concerning.pk
    with transaction.atomic():
        if key:
            existing = Message.objects.filter(company=company, key=key).first()
            if existing is not None:
                return existing
            try:
                with transaction.atomic():
                    message = Message.objects.create(**fields)
            except IntegrityError:
                return Message.objects.get(company=company, key=key)
        else:
            message = Message.objects.create(**fields)
        transaction.on_commit(lambda: enqueue(message.pk, due))
    return message


# After a failed publish, this process stops publishing for a moment (the rows are committed
# and beat re-enqueues them): a request that commits many messages while Redis is down pays for
# one failed connection, not one per message.
BROKER_PAUSE_SECONDS = 5.0
_broker_down_until = 0.0


def enqueue(message_id: int, due: dt.datetime | None = None) -> bool:
    """Schedule the send task. A broker that is down only delays the message: beat re-enqueues
    it (``requeue_due``), so the error is logged, not raised into the request. Returns whether
    the task was handed to the broker (or scheduled for later)."""
    global _broker_down_until
    from crewcommand.tasks import send_message

    eager = send_message.app.conf.task_always_eager
    if not eager and time.monotonic() < _broker_down_until:
        return False
    now = timezone.now()
    try:
        if due is None or due <= now:
            send_message.delay(message_id=message_id)
        elif due - now <= ETA_HORIZON:
            send_message.apply_async(kwargs={"message_id": message_id}, eta=due)
    except Exception:  # broker down: the beat task will find the row
        if eager:
            raise  # inline (tests): a failure is the task's own error
        _broker_down_until = time.monotonic() + BROKER_PAUSE_SECONDS
        logger.warning(
            "outbox enqueue failed message=%s; broker paused %ss, beat will retry",
            message_id,
            BROKER_PAUSE_SECONDS,
        )
        return False
    return True


def claim(message_id: int) -> Message | None:
    """Take the row for this worker: queued → sending, one conditional UPDATE."""
    now = timezone.now()
    taken = Message.objects.filter(
        pk=message_id, status=MessageStatus.QUEUED, send_after__lte=now
    ).update(
        status=MessageStatus.SENDING,
        attempts=F("attempts") + 1,
        claimed_at=now,
        updated_at=now,
    )
    if not taken:
        return None
    return Message.objects.select_related("company", "customer").get(pk=message_id)


def _finish(message: Message, **fields: Any) -> None:
    """Record the outcome, only if this worker still holds the row. A row going back to the
    queue needs a new task: beat may hand it over again (``requeued_at`` cleared)."""
    fields["updated_at"] = timezone.now()
    if fields.get("status") == MessageStatus.QUEUED:
        fields["requeued_at"] = None
    if message.channel == Channel.EMAIL and fields.get("status") != MessageStatus.SENT:
        # The server refused the message (or never got its end): nothing was handed over.
        fields["handed_at"] = None
    Message.objects.filter(
        pk=message.pk, status=MessageStatus.SENDING, claimed_at=message.claimed_at
    ).update(**fields)


def full_text(message: Message) -> dict[str, str]:
    if not message.sealed:
        return {"subject": message.subject, "body": message.body, "html": message.html}
    return json.loads(unseal(message.sealed, SEAL_MAX_AGE, purpose=SEAL_PURPOSE))


def backoff(attempts: int) -> dt.timedelta:
    """30 s, 1 min, 2 min, … capped at 1 h."""
    return dt.timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def send(message_id: int) -> str:
    """Claim and send one message; returns the row's resulting status (or "skipped")."""
    from crewcommand.messaging import channels

    message = claim(message_id)
    if message is None:
        return "skipped"
    try:
        return _send_claimed(message)
    finally:
        # A connection a mail backend left open is closed only after the outcome is recorded
        # (an SMTP connection is kept for the next message: crewcommand.messaging.smtp).
        channels.close_mailers()


def _send_claimed(message: Message) -> str:
    from crewcommand.messaging import channels, consent

    now = timezone.now()
    if message.channel == Channel.EMAIL and message.handed_at is not None:
        # An earlier attempt wrote the end of the message to the mail server and its worker
        # stopped before the answer: the server has it (README, "Messaging"). Not sent again.
        _finish(
            message,
            status=MessageStatus.SENT,
            provider_id=channels.email_message_id(message)[:100],
            sent_at=now,
            next_retry_at=None,
            last_error=handed_note(),
        )
        logger.info(
            "outbox message=%s handed to the mail server earlier: not sent again", message.pk
        )
        return MessageStatus.SENT
    reason = consent.blocked_reason(message)
    if reason:
        _finish(message, status=MessageStatus.BLOCKED, blocked_reason=reason)
        logger.info("outbox blocked message=%s", message.pk)
        return MessageStatus.BLOCKED
    if message.channel == Channel.SMS:
        later = channels.after_quiet_hours(message.company, now)
        if later > now:
            _finish(
                message,
                status=MessageStatus.QUEUED,
                send_after=later,
                attempts=F("attempts") - 1,
            )
            return MessageStatus.QUEUED
    try:
        text = full_text(message)
        if message.channel == Channel.SMS:
            provider_id = _send_sms_once(message, text)
        else:
            provider_id = channels.send_email(
                message, text, hand_off=_email_hand_off(message), refused=_unhand(message)
            )
    except ClaimLost:
        logger.warning("outbox message=%s claimed by another worker mid-send", message.pk)
        return "skipped"
    except Unanswered as error:
        _finish(
            message,
            status=MessageStatus.SENT,
            provider_id=error.message_id[:100],
            sent_at=timezone.now(),
            next_retry_at=None,
            last_error=handed_note(),
        )
        return MessageStatus.SENT
    except SealError:
        _finish(
            message,
            status=MessageStatus.FAILED,
            last_error="The message's links expired before it could be sent.",
        )
        return MessageStatus.FAILED
    except PermanentError as error:
        _finish(
            message,
            status=MessageStatus.FAILED,
            error_code=error.code,
            last_error=redact(str(error))[:2000],
        )
        if message.channel == Channel.SMS and error.code == "21610":
            consent.opt_out_number(company=message.company, phone=message.to, everywhere=False)
        logger.info("outbox failed permanently message=%s code=%s", message.pk, error.code)
        return MessageStatus.FAILED
    except Exception as error:  # transient: network, provider 5xx, broker hiccup
        description = redact(f"{type(error).__name__}: {error}")[:2000]
        if message.attempts >= MAX_ATTEMPTS:
            _finish(message, status=MessageStatus.FAILED, last_error=description)
            return MessageStatus.FAILED
        retry_at = now + backoff(message.attempts)
        _finish(
            message,
            status=MessageStatus.QUEUED,
            send_after=retry_at,
            next_retry_at=retry_at,
            last_error=description,
        )
        logger.warning("outbox transient error message=%s attempt=%s", message.pk, message.attempts)
        transaction.on_commit(lambda: enqueue(message.pk, retry_at))
        return MessageStatus.QUEUED
    _finish(
        message,
        status=MessageStatus.SENT,
        provider_id=provider_id[:100],
        sent_at=timezone.now(),
        next_retry_at=None,
        last_error="",
        handed_at=None,
    )
    return MessageStatus.SENT


def handed_note() -> str:
    return _(
        "The whole email reached the mail server but its answer was not heard (the worker "
        "stopped or the connection dropped): recorded as sent, not sent again."
    )


def _email_hand_off(message: Message) -> Any:
    """The SMTP hand-off hook (``crewcommand.messaging.smtp``): mark the row handed and write
    the end of DATA in one transaction, so the mark commits if and only if (to within the
    microseconds before COMMIT is written) the server can have the message."""

    def hand_off(write_terminator: Any) -> None:
        with transaction.atomic():
            marked = Message.objects.filter(
                pk=message.pk, status=MessageStatus.SENDING, claimed_at=message.claimed_at
            ).update(handed_at=timezone.now())
            if not marked:
                raise ClaimLost(message.pk)
            write_terminator()

    return hand_off


def _unhand(message: Message) -> Any:
    """The server refused the email at its end: clear the hand-off at once (before smtplib's
    RSET and the outcome's UPDATE), so a worker killed meanwhile doesn't leave a refused email
    looking handed."""

    def refused() -> None:
        Message.objects.filter(
            pk=message.pk, status=MessageStatus.SENDING, claimed_at=message.claimed_at
        ).update(handed_at=None)

    return refused


# How far before ``handed_at`` a text found at Twilio may have been created (clock skew).
HANDOFF_SKEW = dt.timedelta(minutes=2)


def _send_sms_once(message: Message, text: dict[str, str]) -> str:
    """Send a text, unless an earlier attempt already reached Twilio.

    ``handed_at`` is written (durably, before the call) and cleared only with the outcome. A
    worker killed during the call leaves it set; when the row is claimed again, Twilio's list
    of messages to that number since then is read first, and a text with the same body that no
    other row owns is taken as this one (recorded, not sent again). If Twilio can't be asked,
    the attempt fails as transient: never a blind resend."""
    from crewcommand.messaging import channels

    if message.handed_at is not None:
        taken = set(
            Message.objects.filter(channel=Channel.SMS, to=message.to)
            .exclude(pk=message.pk)
            .exclude(provider_id="")
            .values_list("provider_id", flat=True)
        )
        found = channels.find_sms(
            message, text, since=message.handed_at - HANDOFF_SKEW, exclude=taken
        )
        if found:
            logger.info(
                "outbox message=%s already at Twilio (%s): not sent again", message.pk, found
            )
            return found
    # The first hand-off is kept: a later check must look back to the earliest attempt.
    Message.objects.filter(
        pk=message.pk,
        status=MessageStatus.SENDING,
        claimed_at=message.claimed_at,
        handed_at__isnull=True,
    ).update(handed_at=timezone.now())
    return channels.send_sms(message, text)


def requeue_due(limit: int = 5000) -> int:
    """Beat: re-enqueue rows that never left. Returns how many were enqueued."""
    now = timezone.now()
    # Rows abandoned in "sending" (worker killed) go back to the queue.
    Message.objects.filter(status=MessageStatus.SENDING, claimed_at__lt=now - lease()).update(
        status=MessageStatus.QUEUED, requeued_at=None, updated_at=now
    )
    due = list(
        Message.objects.filter(
            Q(status=MessageStatus.QUEUED) & Q(send_after__lte=now - REQUEUE_GRACE)
        )
        .filter(Q(requeued_at__isnull=True) | Q(requeued_at__lte=now - requeue_again()))
        .order_by("send_after")
        .values_list("pk", flat=True)[:limit]
    )
    # Queued rows due within the horizon but never scheduled with a countdown (queued for
    # "tomorrow 9:00" by beat's earlier runs) are picked up once due, by the query above.
    handed = []
    for pk in due:
        if enqueue(pk):
            handed.append(pk)
    # A backlog longer than beat's period is not handed over a second time (each extra task
    # would only be skipped by the claim, and cost the worker a task); one lost again is
    # handed over after ``requeue_again()``.
    Message.objects.filter(pk__in=handed, status=MessageStatus.QUEUED).update(requeued_at=now)
    return len(handed)
