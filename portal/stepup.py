"""Step-up: a one-time code sent to a link's contact before signing an estimate or paying an
invoice, when the company asks for it (``Company.step_up_required``, optionally only above
``Company.step_up_above`` CAD).

- A code is 6 random digits (``secrets``), sent by the contact's channel (SMS or email) through
  the outbox. Only its HMAC-SHA256 is stored, keyed by a key derived from ``SECRET_KEY`` and
  the row's own random salt; the code is compared in constant time and never logged. The
  outbox's readable copy of the message has the code redacted (``secrets=``), the text sent
  is kept sealed like a link.
- A code lives ``CODE_MINUTES`` and allows ``MAX_TRIES`` tries (right or wrong), then it is
  dead. Asking for a new one replaces the last. A code that allowed a signature or a payment
  is spent with it (``used_at``, set by a conditional UPDATE in the same transaction): it never
  works again.
- Limits on the shared cache: code requests per link and per client address, and tries per
  link and per client address, across challenges. With ``MAX_TRIES`` per code and
  ``REQUESTS_PER_LINK`` codes an hour, guessing has at most 25 chances in a million an hour
  per link.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from crewcommand import notifications
from crewcommand.errors import ServiceError
from crewcommand.lib.canada import display_phone
from crewcommand.messaging import queue
from crewcommand.models import Channel, Company, Contact, contact_language
from portal import http
from portal.models import CodeChallenge, CodePurpose, PortalLink

CODE_DIGITS = 6
CODE_MINUTES = 10
MAX_TRIES = 5
REQUESTS_PER_LINK = 5  # codes asked per link per hour
REQUESTS_PER_IP = 20  # codes asked per client address per hour
TRIES_PER_LINK = 15  # codes typed per link per hour, all its challenges together
TRIES_PER_IP = 30  # codes typed per client address per hour
WINDOW = 3600
HMAC_SALT = "portal.stepup.code.v1"


def needed(company: Company, amount: Decimal | None) -> bool:
    """Whether signing or paying ``amount`` (CAD) needs a code for this company."""
    if not company.step_up_required:
        return False
    if company.step_up_above is None or amount is None:
        return True
    return amount > company.step_up_above


@sensitive_variables("code")
def code_hash(salt: str, code: str) -> str:
    return salted_hmac(HMAC_SALT, f"{salt}:{code}", algorithm="sha256").hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def masked(channel: str, address: str) -> str:
    """Where the code went, as the page may say it: the last digits of a phone, or the email
    with most of its name hidden."""
    if channel == Channel.SMS:
        return "•••• " + (display_phone(address) or address)[-4:]
    name, _sep, domain = address.partition("@")
    return f"{name[:1]}•••@{domain}"


class CodeLimited(ServiceError):
    """Too many codes asked for, from this link or this address."""


@dataclass(frozen=True)
class Sent:
    channel: str
    to: str  # masked


def _contact(link: PortalLink) -> Contact | None:
    contact = link.contact
    if contact is None or contact.removed_at is not None:
        return None
    return contact


def channel_for(link: PortalLink) -> str:
    contact = _contact(link)
    return contact.best_channel() if contact is not None else ""


@transaction.atomic
@sensitive_variables("code")
def code_request(*, link: PortalLink, purpose: str, ip_bucket: str) -> Sent:
    """Send a new code to the link's own contact (never anywhere the visitor says), replacing
    any open code of this link for ``purpose``."""
    if purpose not in CodePurpose.values:
        raise ServiceError(_("Something went wrong. Reload the page and try again."))
    link = (
        PortalLink.objects.select_for_update(of=("self",))
        .select_related("contact", "company", "customer")
        .get(pk=link.pk)
    )
    if not link.is_usable():
        raise ServiceError(_("This link no longer works. Ask for a fresh link."))
    contact = _contact(link)
    channel = contact.best_channel() if contact is not None else ""
    if contact is None or not channel:
        raise ServiceError(
            _("We have no way to send you a code. Please call %(company)s.")
            % {"company": link.company.name}
        )
    if (
        http.rate_hit("code-send", str(link.pk), window=WINDOW) > REQUESTS_PER_LINK
        or http.rate_hit("code-send-ip", ip_bucket, window=WINDOW) > REQUESTS_PER_IP
    ):
        raise CodeLimited(_("Too many codes asked for. Please wait a while and try again."))
    now = timezone.now()
    CodeChallenge.objects.filter(link=link, purpose=purpose, used_at=None, replaced_at=None).update(
        replaced_at=now
    )
    code, salt = new_code(), secrets.token_hex(16)
    challenge = CodeChallenge.objects.create(
        company=link.company,
        link=link,
        contact=contact,
        purpose=purpose,
        channel=channel,
        salt=salt,
        code_hash=code_hash(salt, code),
        expires_at=now + dt.timedelta(minutes=CODE_MINUTES),
    )
    _send(link=link, contact=contact, channel=channel, code=code, challenge=challenge)
    address = contact.phone if channel == Channel.SMS else contact.email
    return Sent(channel=channel, to=masked(channel, address))


@sensitive_variables("code", "body", "subject", "html")
def _send(
    *, link: PortalLink, contact: Contact, channel: str, code: str, challenge: CodeChallenge
) -> None:
    company = link.company
    with translation.override(contact_language(contact, link.customer, company)):
        context = {
            "company": company.name,
            "code": code,
            "minutes": str(CODE_MINUTES),
            "accent": company.brand_color,
            "contact": contact.name,
        }
        if channel == Channel.SMS:
            body = _(
                "%(company)s: your code is %(code)s. It works for %(minutes)s minutes. "
                "Don't share it."
            ) % {"company": company.name, "code": code, "minutes": CODE_MINUTES}
            subject, html = "", ""
            to = contact.phone
        else:
            subject, body, html = notifications.render_email(
                template="portal_code", context=context
            )
            to = contact.email
    queue(
        company=company,
        channel=channel,
        to=to,
        subject=subject,
        body=body,
        html=html,
        customer=link.customer,
        concerning=challenge,
        template="portal_code",
        secrets=(code,),
    )


class CodeRefused(ServiceError):
    """The typed code opens nothing (wrong, expired, used, too many tries)."""


@sensitive_variables("code")
def code_check(*, link: PortalLink, purpose: str, code: str, ip_bucket: str) -> CodeChallenge:
    """Try ``code`` against the link's open challenge for ``purpose``; every try counts (in its
    own transaction, so a refused signature does not undo it). Returns the challenge, still
    unspent: ``code_spend`` spends it with the signature or payment it allows."""
    code = "".join(code.split())
    if (
        http.rate_hit("code-try", str(link.pk), window=WINDOW) > TRIES_PER_LINK
        or http.rate_hit("code-try-ip", ip_bucket, window=WINDOW) > TRIES_PER_IP
    ):
        raise CodeRefused(_("Too many tries. Please wait a while, then ask for a new code."))
    refusal = ""
    with transaction.atomic():
        challenge = (
            CodeChallenge.objects.select_for_update()
            .filter(link=link, purpose=purpose, used_at=None, replaced_at=None)
            .order_by("-created_at", "-id")
            .first()
        )
        if challenge is None:
            refusal = _("Ask for a code first, then type it here.")
        elif challenge.expires_at <= timezone.now():
            refusal = _("This code has expired. Ask for a new one.")
        elif challenge.tries >= MAX_TRIES:
            refusal = _("Too many wrong codes. Ask for a new one.")
        else:
            # The try is counted and committed before the answer, right or wrong.
            challenge.tries += 1
            challenge.save(update_fields=["tries"])
            wellformed = len(code) == CODE_DIGITS and code.isascii() and code.isdigit()
            given = code_hash(challenge.salt, code if wellformed else "-")
            if not (hmac.compare_digest(challenge.code_hash, given) and wellformed):
                left = MAX_TRIES - challenge.tries
                refusal = (
                    _("That code is not right. %(left)s tries left.") % {"left": left}
                    if left > 0
                    else _("That code is not right. Ask for a new one.")
                )
    if refusal or challenge is None:
        raise CodeRefused(refusal)
    return challenge


def code_spend(*, challenge: CodeChallenge) -> dt.datetime:
    """Spend the challenge, inside the caller's transaction (the signature's or payment's):
    a conditional UPDATE, so of two uses of one code exactly one goes through."""
    now = timezone.now()
    spent = CodeChallenge.objects.filter(
        pk=challenge.pk, used_at=None, replaced_at=None, expires_at__gt=now
    ).update(used_at=now)
    if not spent:
        raise CodeRefused(_("This code has already been used or has expired. Ask for a new one."))
    return now
