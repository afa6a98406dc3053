"""The two channels: email through Django's mail API (``MAILERS``), SMS through the ``twilio``
SDK. Each raises ``PermanentError`` or lets a transient error propagate (the outbox retries)."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import secrets
import smtplib
import threading
import zoneinfo
from collections.abc import Callable
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crewcommand.lib.canada import normalise_phone
from crewcommand.messaging import smtp
from crewcommand.messaging.outbox import PermanentError, Unanswered
from crewcommand.models import Company, Message, MessageKind, customer_language

# Twilio error codes that will never succeed on retry: invalid or unreachable "To", the number
# unsubscribed (replied STOP to this sender), landline, blocked, no sender configured.
PERMANENT_TWILIO_CODES = {
    21211,
    21212,
    21214,
    21217,
    21219,
    21401,
    21408,
    21421,
    21601,
    21602,
    21603,
    21604,
    21606,
    21610,
    21612,
    21614,
    21617,
    21659,
    21660,
    21661,
    21703,
    21705,
    30003,
    30004,
    30005,
    30006,
    30007,
}


# --- Addresses and quiet hours --------------------------------------------------------------


def sms_address(value: str) -> str:
    """A phone number in E.164 (as Twilio and opt-outs store it); left as typed if unparsable,
    so the send fails visibly with Twilio's "invalid number"."""
    value = value.strip()
    try:
        return normalise_phone(value) or value
    except Exception:
        return value


def _in_quiet_hours(local: dt.time, start: dt.time, end: dt.time) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def after_quiet_hours(company: Company, when: dt.datetime) -> dt.datetime:
    """``when``, or the end of the company's SMS quiet hours if ``when`` falls inside them."""
    tz = zoneinfo.ZoneInfo(company.timezone)
    local = when.astimezone(tz)
    start, end = company.quiet_hours_start, company.quiet_hours_end
    if not _in_quiet_hours(local.time(), start, end):
        return when
    end_today = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if end_today <= local:
        end_today = (local + dt.timedelta(days=1)).replace(
            hour=end.hour, minute=end.minute, second=0, microsecond=0
        )
        end_today = end_today.replace(tzinfo=tz)
    return end_today.astimezone(dt.UTC)


# --- SMS ------------------------------------------------------------------------------------


def twilio_client() -> Any:
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    base = settings.TWILIO_API_BASE
    if not base:
        return Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)

    class BaseUrlTwilioHttpClient(TwilioHttpClient):
        """Sends requests meant for *.twilio.com to ``TWILIO_API_BASE`` (a test double)."""

        def request(
            self,
            method,
            url,
            params=None,
            data=None,
            headers=None,
            auth=None,
            timeout=None,
            allow_redirects=False,
        ):  # type: ignore[no-untyped-def]
            parts = urlsplit(url)
            host = parts.hostname or ""
            if host == "twilio.com" or host.endswith(".twilio.com"):
                url = base.rstrip("/") + url[len(f"{parts.scheme}://{parts.netloc}") :]
            return super().request(
                method, url, params, data, headers, auth, timeout, allow_redirects
            )

    return Client(
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_AUTH_TOKEN,
        http_client=BaseUrlTwilioHttpClient(timeout=15),
    )


def status_callback_url() -> str:
    return settings.SITE_URL + reverse("twilio_status")


def send_sms(message: Message, text: dict[str, str]) -> str:
    """Send through Twilio; returns the message SID."""
    from twilio.base.exceptions import TwilioRestException

    if not settings.TWILIO_ENABLED:
        raise PermanentError(_("Texting is not set up (no Twilio account)."), "not_configured")
    company = message.company
    sender: dict[str, str] = {}
    if company.sms_messaging_service_sid:
        sender["messaging_service_sid"] = company.sms_messaging_service_sid
    elif company.sms_from_number:
        sender["from_"] = company.sms_from_number
    elif settings.TWILIO_MESSAGING_SERVICE_SID:
        sender["messaging_service_sid"] = settings.TWILIO_MESSAGING_SERVICE_SID
    elif settings.TWILIO_FROM_NUMBER:
        sender["from_"] = settings.TWILIO_FROM_NUMBER
    else:
        raise PermanentError(_("No SMS sender number is set."), "no_sender")
    try:
        result = twilio_client().messages.create(
            to=message.to,
            body=text["body"],
            status_callback=status_callback_url(),
            **sender,
        )
    except TwilioRestException as error:
        code = int(error.code or 0)
        if code in PERMANENT_TWILIO_CODES or (400 <= error.status < 500 and error.status != 429):
            raise PermanentError(f"Twilio {code}: {error.msg}", str(code)) from error
        raise
    return str(result.sid)


def find_sms(
    message: Message, text: dict[str, str], *, since: dt.datetime, exclude: set[str]
) -> str:
    """The SID of a text Twilio already has for this row (same number, same body, created
    since ``since``, not owned by another row), or "". Lists the newest messages to the number
    (Twilio's Messages list, ``To`` filter, newest first)."""
    for sent in twilio_client().messages.list(to=message.to, limit=50):
        created = sent.date_created
        if created is not None and created < since:
            break
        if sent.sid not in exclude and (sent.body or "") == text["body"]:
            return str(sent.sid)
    return ""


# --- Email ----------------------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def unsubscribe_message(token: str) -> Message | None:
    """The commercial email whose one-click unsubscribe link carries ``token``."""
    if not token or len(token) > 100:
        return None
    return (
        Message.objects.select_related("company", "customer")
        .filter(unsubscribe_hash=_hash(token))
        .first()
    )


def sender_identification(company: Company) -> str:
    """CASL: who sends, and how to reach them."""
    address = ", ".join(
        p for p in [company.address_line1, company.city, company.province, company.postal_code] if p
    )
    contact = " · ".join(p for p in [company.phone, company.email, company.website] if p)
    return "\n".join(p for p in [company.name, address, contact] if p)


def email_message_id(message: Message) -> str:
    """The stable Message-ID of an outbox email (the same on every attempt)."""
    domain = urlsplit(settings.SITE_URL).hostname or "crewcommand.localhost"
    return f"<{message.public_id}@{domain}>"


def send_email(
    message: Message,
    text: dict[str, str],
    hand_off: smtp.HandOffHook | None = None,
    refused: Callable[[], None] | None = None,
) -> str:
    """Send through Django's default mailer; returns the Message-ID.

    ``hand_off``: on the SMTP backend (``crewcommand.messaging.smtp``), called with the
    function that writes the end of DATA, when all the rest of the message is with the server.
    If the connection fails after that write and before the server's answer, ``Unanswered``
    is raised: the server may have the message, so it must not be sent again. ``refused``:
    called as soon as the server refuses the message at its end (4xx/5xx)."""
    from crewcommand.notifications import mailbox

    company = message.company
    message_id = email_message_id(message)
    headers = {"Message-ID": message_id}
    body, html = text["body"], text["html"]
    if message.kind == MessageKind.COMMERCIAL:
        token = secrets.token_urlsafe(32)
        Message.objects.filter(pk=message.pk).update(unsubscribe_hash=_hash(token))
        url = settings.SITE_URL + reverse("messaging_unsubscribe", args=[token])
        headers["List-Unsubscribe"] = f"<{url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        identification = sender_identification(company)
        # The footer in the customer's language, like the message above it.
        language = (
            customer_language(message.customer, company)
            if message.customer is not None
            else settings.LANGUAGE_CODE
        )
        with translation.override(language):
            body = render_to_string(
                "messaging/commercial_footer.txt",
                {"body": body, "url": url, "identification": identification},
            )
            if html:
                html = html + render_to_string(
                    "messaging/commercial_footer.html",
                    {"url": url, "identification": identification},
                )
    sender = mailbox(company.name, parseaddr(settings.DEFAULT_FROM_EMAIL)[1])
    email = EmailMultiAlternatives(
        subject=text["subject"],
        body=body,
        from_email=sender,
        to=[message.to],
        reply_to=[company.email] if company.email else [],
        headers=headers,
    )
    if html:
        email.attach_alternative(html, "text/html")
    mailer = _mailer()
    keep = mailer is getattr(_kept, "mailer", None)
    for attempt in (1, 2):
        opened = mailer.open()
        state: smtp.HandOff | None = None
        try:
            with contextlib.ExitStack() as stack:
                if hand_off is not None:
                    state = stack.enter_context(smtp.handing_off(hand_off, refused))
                mailer.send_messages([email])
        except smtplib.SMTPRecipientsRefused as error:
            _close(mailer)
            raise PermanentError(
                _("The address was refused: %(e)s") % {"e": error}, "refused"
            ) from error
        except ValueError as error:  # a malformed address or header: never sendable
            _close(mailer)
            raise PermanentError(str(error), "invalid") from error
        except Exception as error:
            _close(mailer)
            if (
                state is not None
                and state.terminated
                and not isinstance(error, smtplib.SMTPResponseException)
            ):
                # The whole message reached the server, which did not answer (a refusal is an
                # SMTPResponseException): it may have taken it.
                raise Unanswered(message_id) from error
            if (
                keep
                and attempt == 1
                and not opened
                and not (state is not None and state.started)
                and isinstance(error, OSError)  # dropped, reset, or 421 "closing"
                and getattr(error, "smtp_code", 421) == 421
            ):
                continue  # the kept connection had been closed by the server
            raise
        break
    if opened and not keep:
        _open_mailers.append(mailer)
    return message_id


# An SMTP connection (``crewcommand.messaging.smtp``) is kept open from one message to the next
# in this thread: no connect, TLS handshake and login per message. One the server has dropped
# meanwhile fails before DATA, and the message goes on a new one.
_kept = threading.local()


def _mailer() -> Any:
    config = repr(mailers.settings.get("default"))
    if getattr(_kept, "config", None) == config:
        return _kept.mailer
    mailer = mailers["default"]
    if not isinstance(mailer, smtp.EmailBackend):
        return mailer
    previous = getattr(_kept, "mailer", None)
    if previous is not None:
        _close(previous)
    _kept.mailer, _kept.config = mailer, config
    return mailer


# Other connections ``send_email`` left open: closed by the outbox once the outcome is recorded.
_open_mailers: list[Any] = []


def _close(mailer: Any) -> None:
    with contextlib.suppress(Exception):  # closing a connection that already failed
        mailer.close()


def close_mailers() -> None:
    while _open_mailers:
        _close(_open_mailers.pop())


def now() -> dt.datetime:
    return timezone.now()
