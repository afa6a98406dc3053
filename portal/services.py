"""State changes of the customer portal: sending documents, links, views, and the customer's
answers.

Every function is keyword-only, runs in one transaction and writes an activity row. Raw tokens
exist only inside ``IssuedLink`` (created here, shown once, never stored or logged).
"""

# `with transaction.atomic():`, not the decorator: mutmut does not mutate decorated functions.

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal, cast

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Coalesce, Greatest, Least
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crewcommand.errors import ServiceError
from crewcommand.lib import activity
from crewcommand.lib.activity import Actor
from crewcommand.lib.money import format_cad
from crewcommand.lib.sealed import seal
from crewcommand.models import Channel, Contact, Customer, Language, PreferredChannel
from documents import services as documents_services
from documents.models import (
    OPEN_ESTIMATE_STATUSES,
    Estimate,
    EstimateStatus,
    Invoice,
    InvoiceStatus,
)
from documents.tasks import warm_pdf
from documents.totals import Selection, revision_totals, validate_selection
from portal import canonical, notifications
from portal import seal as signature_seal
from portal.models import CodeChallenge, LinkChannel, PortalLink, Signature
from portal.tokens import new_reference, new_token, token_hash

logger = logging.getLogger(__name__)

ANSWERABLE = OPEN_ESTIMATE_STATUSES
Document = Estimate | Invoice


@dataclass(frozen=True)
class IssuedLink:
    """A link just made, with its raw token: show it once, send it, forget it."""

    link: PortalLink
    token: str = field(repr=False)

    @property
    def path(self) -> str:
        return reverse("portal:home", args=[self.token])

    @property
    def url(self) -> str:
        return settings.SITE_URL + self.path


@dataclass(frozen=True)
class SignatureIn:
    """What the customer submitted to sign, already validated (image built on the server)."""

    signer_name: str
    method: str
    image_svg: str
    consent_text: str
    # The language of the pages the customer read and signed (the consent text is in it).
    language: str = "en-ca"


def _member_user(actor: Actor):
    return actor.user if actor.kind == "member" and actor.user is not None else None


def _default_expiry(customer: Customer) -> dt.datetime | None:
    days = customer.company.portal_link_days
    return timezone.now() + dt.timedelta(days=days) if days else None


def _closed_window(customer: Customer, document: Document | None) -> dt.datetime | None:
    """A new link to a closed document (a fresh one the customer asked for an old paid
    invoice, or one the contractor made) works for the company's closed-document period from
    now, as if the document had just closed: without this it would be born expired."""
    days = customer.company.portal_closed_link_days
    if document is None or document.closed_at is None or not days:
        return None
    return timezone.now() + dt.timedelta(days=days)


def _document_target(link: PortalLink) -> Document | Customer:
    return link.estimate or link.invoice or link.customer


def _check_document(customer: Customer, document: Document | None) -> None:
    if document is None:
        return
    if document.company_id != customer.company_id or document.customer_id != customer.pk:
        raise ServiceError(_("That document belongs to another customer."))
    if isinstance(document, Estimate) and document.sent_at is None:
        raise ServiceError(_("Send the estimate first: customers only see sent estimates."))
    if isinstance(document, Invoice) and document.status == InvoiceStatus.DRAFT:
        raise ServiceError(_("Send the invoice first: customers only see sent invoices."))


def _log_link(link: PortalLink, verb: str, actor: Actor, **data: str) -> None:
    activity.record(
        company=link.company,
        verb=verb,
        actor=actor,
        target=_document_target(link),
        customer=link.customer,
        data={"reference": link.reference, **data},
    )


# --- Links -------------------------------------------------------------------------------------


def link_create(
    *,
    customer: Customer,
    actor: Actor,
    document: Document | None = None,
    channel: str = LinkChannel.MANUAL,
    sent_to: str = "",
    expires_at: dt.datetime | Literal[True] | None = True,
    keep_until: dt.datetime | None = None,
    contact: Contact | None = None,
) -> IssuedLink:
    """Make a link for the customer, optionally scoped to one of their documents, given to one
    of their contacts (``contact``; by default the primary one).

    ``expires_at=True`` (the default) applies the company's ``portal_link_days``; ``None``
    makes a link that never expires. A link to a closed document is kept open for the
    company's closed-document period from now (``_closed_window``), or until ``keep_until``
    if that is later."""
    with transaction.atomic():
        _check_document(customer, document)
        window = _closed_window(customer, document)
        if window is not None:
            keep_until = max(keep_until, window) if keep_until else window
        if contact is None:
            contact = primary_contact(customer)
        elif contact.customer_id != customer.pk or contact.removed_at is not None:
            raise ServiceError(_("That contact is not on file for this customer."))
        token = new_token()
        for _attempt in range(8):
            try:
                with transaction.atomic():
                    link = PortalLink.objects.create(
                        company=customer.company,
                        customer=customer,
                        contact=contact,
                        estimate=document if isinstance(document, Estimate) else None,
                        invoice=document if isinstance(document, Invoice) else None,
                        token_hash=token_hash(token),
                        reference=new_reference(),
                        channel=channel,
                        sent_to=sent_to[:254],
                        created_by=_member_user(actor),
                        expires_at=_default_expiry(customer) if expires_at is True else expires_at,
                        keep_until=keep_until,
                    )
                break
            except IntegrityError:  # a reference already used in this company: draw another
                continue
        else:
            raise ServiceError(_("Could not create a link. Please try again."))
        _log_link(link, "portal_link.created", actor)
        return IssuedLink(link=link, token=token)


def link_revoke(*, link: PortalLink, actor: Actor) -> PortalLink:
    """Stop a link from working at once. Idempotent."""
    with transaction.atomic():
        link = PortalLink.objects.select_for_update().get(pk=link.pk)
        if link.revoked_at is None:
            link.revoked_at = timezone.now()
            link.save(update_fields=["revoked_at", "updated_at"])
            _log_link(link, "portal_link.revoked", actor)
        return link


EXTEND_MAX_DAYS = 3650


def link_extend(*, link: PortalLink, until: dt.datetime, actor: Actor) -> PortalLink:
    """Keep the link working until ``until``: past its closed document's expiry
    (``keep_until``) and past its own lifetime (``expires_at``) if that ends sooner. Never
    shortens a link, and never brings back a revoked one (make a new link instead)."""
    with transaction.atomic():
        link = (
            PortalLink.objects.select_for_update(of=("self",))
            .select_related("company", "customer", "estimate", "invoice")
            .get(pk=link.pk)
        )
        now = timezone.now()
        if link.revoked_at is not None:
            raise ServiceError(_("This link was revoked and can't be extended. Create a new link."))
        if until <= now:
            raise ServiceError(_("Choose a date after today."))
        if until > now + dt.timedelta(days=EXTEND_MAX_DAYS):
            raise ServiceError(_("Choose a date within the next ten years."))
        fields = ["keep_until", "updated_at"]
        link.keep_until = max(until, link.keep_until) if link.keep_until else until
        if link.expires_at is not None and link.expires_at < until:
            link.expires_at = until
            fields.append("expires_at")
        link.save(update_fields=fields)
        planned = link.planned_expiry
        _log_link(
            link,
            "portal_link.extended",
            actor,
            until=date_format(timezone.localtime(planned), "DATE_FORMAT") if planned else "-",
        )
        return link


def link_regenerate(*, link: PortalLink, actor: Actor) -> IssuedLink:
    """Revoke the link and make a new one with the same customer, scope and recipient."""
    with transaction.atomic():
        old = link_revoke(link=link, actor=actor)
        issued = link_create(
            customer=old.customer,
            actor=actor,
            document=old.document,
            channel=LinkChannel.MANUAL,
            sent_to=old.sent_to,
            keep_until=old.keep_until,
            contact=old.contact if old.contact and old.contact.removed_at is None else None,
        )
        old.replaced_by = issued.link
        old.save(update_fields=["replaced_by", "updated_at"])
        _log_link(old, "portal_link.regenerated", actor, new=issued.link.reference)
        return issued


# --- One link per Send ------------------------------------------------------------------------


@dataclass
class _Sending:
    """A Send in progress (``estimate_deliver`` / ``invoice_deliver``): the one link made for
    it, shared by the email and by the texts that automations queue in the same transaction
    (``send_link``), and whether a text carrying it was queued to go now (``send_texted``)."""

    document: Document
    actor: Actor
    issued: IssuedLink | None = None
    texted: bool = False


# Holds the Send's raw token in memory only, for the duration of the Send (its transaction):
# never stored, so tokens stay random and stored hashed, and a later message mints its own.
_sending: ContextVar[_Sending | None] = ContextVar("portal_sending", default=None)


@contextmanager
def _send_scope(document: Document, actor: Actor) -> Iterator[_Sending]:
    scope = _Sending(document=document, actor=actor)
    reset = _sending.set(scope)
    try:
        yield scope
    finally:
        _sending.reset(reset)


def _scope_for(document: Document | None) -> _Sending | None:
    scope = _sending.get()
    if scope is None or document is None:
        return None
    same = type(scope.document) is type(document) and scope.document.pk == document.pk
    return scope if same else None


def _send_issue(
    scope: _Sending,
    document: Document,
    channel: str = LinkChannel.EMAIL,
    sent_to: str | None = None,
) -> IssuedLink:
    """The Send's link, made on first use from ``document`` (the caller's copy, marked sent:
    the scope's own copy is from before the Send), recorded as going where its first user sends
    it (an automation's text: ``channel`` and ``sent_to``; else the customer's email)."""
    if scope.issued is None:
        customer = document.customer
        scope.issued = link_create(
            customer=customer,
            actor=scope.actor,
            document=document,
            channel=channel,
            sent_to=customer.email if sent_to is None else sent_to,
        )
    return scope.issued


def send_link(
    *, customer: Customer, document: Document | None, channel: str, sent_to: str
) -> IssuedLink:
    """A link for an automated message about ``document``. Inside a Send of that document
    (the SMS that goes with the Send's email), the Send's own link: one link, not two.
    Otherwise a new link (``link_create``), made for ``channel`` and ``sent_to``."""
    scope = _scope_for(document)
    if scope is not None and document is not None and document.customer_id == customer.pk:
        return _send_issue(scope, document, channel, sent_to)
    return link_create(
        customer=customer,
        actor=Actor.system(),
        document=document,
        channel=channel,
        sent_to=sent_to,
    )


def send_texted(*, document: Document | None, link: PortalLink) -> None:
    """An SMS carrying the Send's link was queued to go now: a customer who prefers texts
    then gets no email of the same link (``share_document``)."""
    scope = _scope_for(document)
    if scope is not None and scope.issued is not None and scope.issued.link.pk == link.pk:
        scope.texted = True


def primary_contact(customer: Customer) -> Contact | None:
    return Contact.objects.filter(customer=customer, is_primary=True, removed_at=None).first()


def contacts_on_file(customer: Customer) -> list[Contact]:
    return list(Contact.objects.filter(customer=customer, removed_at=None))


def share_document(
    *,
    document: Document,
    actor: Actor,
    channel: str = "email",
    note: str = "",
    contacts: list[Contact] | None = None,
) -> PortalLink:
    """Give each of ``contacts`` (default: the customer's primary contact) a link of their own to
    one sent estimate or invoice, and send it to that contact after commit: by email, with the
    contractor's ``note`` (plain text, already validated) if any, or by text to a contact whose
    preferred channel is texts. Tokens and notes travel sealed in the outbox.

    A contact with neither gets a link and nothing is sent (``link.sent_to == ""``); the
    dashboard can copy a fresh link instead. Inside a Send, the primary contact's link is the
    Send's own (the one its SMS carries, if an automation texted it): the primary contact is
    not texted twice, and one who prefers texts and was texted that link gets no email of it
    (unless the contractor wrote a note, which only the email carries). Returns the first
    contact's link."""
    with transaction.atomic():
        if channel != "email":
            raise ServiceError(_("Only email delivery is available for now."))
        customer = document.customer
        if contacts is None:
            primary = primary_contact(customer)
            contacts = [primary] if primary is not None else []
        scope = _scope_for(document)
        links = [
            _share_with(document, customer, contact, actor, note, scope) for contact in contacts
        ]
        if not links:  # a customer without contacts (made before them): one unaddressed link
            links.append(_share_with(document, customer, None, actor, note, scope))
        return links[0]


def _share_with(
    document: Document,
    customer: Customer,
    contact: Contact | None,
    actor: Actor,
    note: str,
    scope: _Sending | None,
) -> PortalLink:
    # The primary contact inside a Send takes the Send's link, which the automations' SMS
    # companion may already have texted to the customer's number: then no second text.
    sends_link = scope is not None and (contact is None or contact.is_primary)
    texted = bool(scope is not None and sends_link and scope.texted)
    if texted and not note:
        prefers_texts = customer.preferred_channel == PreferredChannel.SMS or (
            contact is not None and contact.preferred_channel == Channel.SMS
        )
        if prefers_texts:
            assert scope is not None
            link = _send_issue(scope, document).link
            link.channel, link.sent_to = LinkChannel.SMS, customer.phone[:254]
            link.save(update_fields=["channel", "sent_to", "updated_at"])
            _log_link(link, "portal_link.texted", actor, to=customer.phone)
            return link
    # Email, as Send always did; a text only to a contact who asked for texts and was not
    # texted this link already.
    if contact is None:
        by, to = (Channel.EMAIL, customer.email) if customer.email else ("", "")
    elif contact.preferred_channel == Channel.SMS and contact.can_text() and not texted:
        by, to = Channel.SMS, contact.phone
    elif contact.can_email():
        by, to = Channel.EMAIL, contact.email
    else:
        by, to = "", ""
    link_channel = LinkChannel.SMS if by == Channel.SMS else LinkChannel.EMAIL
    if sends_link:
        assert scope is not None
        issued = _send_issue(scope, document)
        if (issued.link.channel, issued.link.sent_to) != (link_channel, to[:254]):
            issued.link.channel, issued.link.sent_to = link_channel, to[:254]
            issued.link.save(update_fields=["channel", "sent_to", "updated_at"])
    else:
        issued = link_create(
            customer=customer,
            actor=actor,
            document=document,
            channel=link_channel,
            sent_to=to,
            contact=contact,
        )
    if by == Channel.SMS:
        notifications.queue_link_sms(link=issued.link, url=issued.url)
        _log_link(issued.link, "portal_link.texted", actor, to=to)
    elif to:
        notifications.queue_link_email(link=issued.link, url=issued.url, note=note)
        if note:
            _log_link(
                issued.link,
                "portal_link.emailed_with_note",
                actor,
                to=to,
                note=note,
                excerpt=_excerpt(note),
            )
        else:
            _log_link(issued.link, "portal_link.emailed", actor, to=to)
    return issued.link


def _excerpt(note: str, limit: int = 120) -> str:
    """The note on one line, cut at a word near ``limit`` characters, for the timeline."""
    flat = " ".join(note.split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + "…"


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def sent_stamp(document: Document) -> str:
    """When the document was last sent, as the send preview saw it (``"0"``: never). Sending
    checks it under the document's row lock, so a second Send from the same preview (a double
    click, a resubmitted form, two tabs) finds the document sent since and emails nobody."""
    if document.sent_at is None:
        return "0"
    return str((document.sent_at - _EPOCH) // dt.timedelta(microseconds=1))


class AlreadySent(ServiceError):
    """The document went out since the preview was shown: nothing is sent again. Not a
    failure to the contractor (the customer has the email), so the page shows it as a warning."""

    level = "warning"


def _check_not_sent_since(document: Document, last_sent: str | None) -> None:
    if last_sent is None:
        return
    current = type(document).objects.select_for_update().only("sent_at").get(pk=document.pk)
    if sent_stamp(current) != last_sent:
        when = timezone.localtime(cast(dt.datetime, current.sent_at))
        raise AlreadySent(
            _("This was sent at %(time)s, after you opened the preview, so it was not sent twice.")
            % {"time": date_format(when, "TIME_FORMAT")}
            if current.sent_at
            else _("Open the preview again before sending.")
        )


def estimate_deliver(
    *,
    estimate: Estimate,
    actor: Actor,
    note: str = "",
    last_sent: str | None = None,
    contacts: list[Contact] | None = None,
) -> Estimate:
    """Send an estimate to its customer: mark it sent (``documents``), make its link and email
    it with ``note`` (``share_document``), and render its PDF in the background. With
    ``last_sent`` (``sent_stamp`` as the preview saw it), refuses with ``AlreadySent`` when the
    estimate was sent since."""
    with transaction.atomic():
        _check_not_sent_since(estimate, last_sent)
        with _send_scope(estimate, actor):
            estimate = documents_services.estimate_send(estimate=estimate, actor=actor)
            share_document(document=estimate, actor=actor, note=note, contacts=contacts)
        warm_pdf.delay_on_commit(kind="estimate", pk=estimate.pk)
        return estimate


def invoice_deliver(
    *,
    invoice: Invoice,
    actor: Actor,
    note: str = "",
    last_sent: str | None = None,
    contacts: list[Contact] | None = None,
) -> Invoice:
    """Send an invoice to its customer, as ``estimate_deliver`` does an estimate."""
    with transaction.atomic():
        _check_not_sent_since(invoice, last_sent)
        with _send_scope(invoice, actor):
            invoice = documents_services.invoice_send(invoice=invoice, actor=actor)
            share_document(document=invoice, actor=actor, note=note, contacts=contacts)
        warm_pdf.delay_on_commit(kind="invoice", pk=invoice.pk)
        return invoice


# --- Fresh links for expired ones ----------------------------------------------------------------


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)[-10:]


def contact_matches(contact: Contact, typed: str) -> str:
    """The channel by which ``typed`` (what the visitor typed) is this contact's own email or
    mobile number, or "" when it is neither."""
    typed = typed.strip()
    if "@" in typed:
        if contact.email and typed.casefold() == contact.email.strip().casefold():
            return Channel.EMAIL
        return ""
    digits = _digits(typed)
    return Channel.SMS if len(digits) >= 7 and digits == _digits(contact.phone) else ""


def fresh_link_queue(*, link_id: int | None, contact: str) -> None:
    """Queue a fresh-link request from an expired link's page, whatever the contact: the
    response to the visitor then costs the same whether or not it matches and a link is sent
    (the worker decides, ``fresh_link_request``). The contact travels sealed."""
    from portal.tasks import send_fresh_link

    send_fresh_link.delay_on_commit(link_id=link_id, sealed_contact=seal(contact))


def fresh_link_request(*, link: PortalLink | None, contact: str) -> bool:
    """Send a fresh link if, and only if, ``link`` is a real link that expired (not revoked)
    and ``contact`` is the email or mobile number of one of the customer's contacts on file.
    The link goes to that contact, at the address on file (never to what was typed, even when
    it differs only in case or spacing), by the channel that matched. Returns whether a link
    was sent; callers must answer the visitor the same way either way."""
    with transaction.atomic():
        if link is None or link.revoked_at is not None or link.is_usable():
            return False
        customer = link.customer
        match, channel = None, ""
        for candidate in contacts_on_file(customer):
            channel = contact_matches(candidate, contact)
            if channel:
                match = candidate
                break
        if match is None:
            return False
        if channel == Channel.SMS and not match.can_text():
            channel = Channel.EMAIL
        if channel == Channel.EMAIL and not match.can_email():
            return False
        to = match.phone if channel == Channel.SMS else match.email
        actor = Actor.customer(match.name)
        issued = link_create(
            customer=customer,
            actor=actor,
            document=link.document,
            channel=LinkChannel.FRESH,
            sent_to=to,
            contact=match,
        )
        PortalLink.objects.filter(pk=link.pk).update(
            replaced_by=issued.link, updated_at=timezone.now()
        )
        if channel == Channel.SMS:
            notifications.queue_link_sms(link=issued.link, url=issued.url)
        else:
            notifications.queue_link_email(link=issued.link, url=issued.url)
        _log_link(link, "portal_link.reissued", actor, new=issued.link.reference)
        return True


def contact_removed(row) -> None:
    """Activity subscriber (``contact.removed``): a contact taken off the customer loses their
    links at once; the other contacts' links keep working."""
    links = PortalLink.objects.filter(
        company_id=row.company_id, contact__public_id=row.data.get("contact", ""), revoked_at=None
    )
    for link in links:
        link_revoke(link=link, actor=Actor.system())


# --- Views ---------------------------------------------------------------------------------------


def link_record_view(*, link: PortalLink, device: str) -> None:
    """Count one view of the link now (the fallback when the cache is down)."""
    now = timezone.now()
    link_record_views(link_id=link.pk, count=1, first=now, last=now, device=device)


def link_record_views(
    *, link_id: int, count: int, first: dt.datetime, last: dt.datetime, device: str
) -> None:
    """Add ``count`` views of the link, in one UPDATE (first and last time, count, device);
    called by ``portal.visits.flush`` with what the cache gathered."""
    PortalLink.objects.filter(pk=link_id).update(
        view_count=F("view_count") + count,
        first_viewed_at=Least(Coalesce(F("first_viewed_at"), first), first),
        last_viewed_at=Greatest(Coalesce(F("last_viewed_at"), last), last),
        last_device=device,
    )


def document_mark_viewed(
    *, document: Document, link: PortalLink, at: dt.datetime | None = None
) -> bool:
    """Move a sent document to *viewed* the first time its customer opens it (``at``: when
    they did). Idempotent: a conditional UPDATE, so concurrent first views record one
    activity row."""
    with transaction.atomic():
        model = type(document)
        sent = EstimateStatus.SENT if model is Estimate else InvoiceStatus.SENT
        viewed = EstimateStatus.VIEWED if model is Estimate else InvoiceStatus.VIEWED
        now = at or timezone.now()
        changed = model.objects.filter(pk=document.pk, status=sent).update(
            status=viewed, viewed_at=now, updated_at=timezone.now()
        )
        if changed:
            document.status, document.viewed_at = viewed, now
            activity.record(
                company=link.company,
                verb=f"{'estimate' if model is Estimate else 'invoice'}.viewed",
                actor=Actor.customer(link.customer.name),
                target=document,
                customer=link.customer,
                data={"number": document.display_number, "reference": link.reference},
            )
        return bool(changed)


# --- Answers to estimates ------------------------------------------------------------------------


def _lock_answerable(*, estimate: Estimate, link: PortalLink) -> Estimate:
    """Lock the estimate and check the customer may still answer it through this link.

    The link row is locked first and read as stored: a revoke (which locks it too) then either
    waits for this answer to commit, or lands first and the answer is refused. An unlocked
    check let a revoke slip in between the check and the signature."""
    current = PortalLink.objects.select_for_update().filter(pk=link.pk).first()
    if current is None or not current.is_usable():
        raise ServiceError(_("This link no longer works. Ask for a fresh link."))
    estimate = (
        Estimate.objects.select_for_update(of=("self",))
        .select_related("current_revision", "company")
        .get(pk=estimate.pk, company_id=link.company_id, customer_id=link.customer_id)
    )
    if estimate.status == EstimateStatus.ACCEPTED:
        raise ServiceError(_("This estimate has already been accepted."))
    if estimate.status == EstimateStatus.DECLINED:
        raise ServiceError(_("This estimate has already been declined."))
    if estimate.status not in ANSWERABLE:
        raise ServiceError(
            _("%(company)s is updating this estimate. You'll receive the new version soon.")
            % {"company": estimate.company.name}
        )
    if estimate.display_status == EstimateStatus.EXPIRED:
        raise ServiceError(
            _("This estimate expired on %(date)s. Contact %(company)s for a new one.")
            % {
                "date": date_format(
                    cast(dt.date, estimate.current_revision.valid_until), "DATE_FORMAT"
                ),
                "company": estimate.company.name,
            }
        )
    return estimate


def _notify(estimate: Estimate, template: str, **context: str) -> None:
    notifications.queue_company_email(
        company=estimate.company,
        template=template,
        context={
            "customer": estimate.customer.name,
            "number": estimate.display_number,
            "url": notifications.dashboard_url(estimate.get_absolute_url()),
            **context,
        },
    )


def selection_summary(lines, selection: Selection) -> list[str]:
    """Human-readable picks for the audit trail: chosen options and declined add-ons."""
    summary = []
    for line in lines:
        if line.kind == "optional":
            picked = line.public_id in selection.optional
            summary.append(
                (_("Added: %(d)s") if picked else _("Not added: %(d)s")) % {"d": line.description}
            )
        elif line.kind == "choice" and selection.choices.get(line.group) == line.public_id:
            summary.append(_("%(group)s: %(d)s") % {"group": line.group, "d": line.description})
    return summary


def estimate_accept(
    *,
    estimate: Estimate,
    link: PortalLink,
    revision_number: int,
    selection: Selection,
    signature: SignatureIn,
    ip: str | None,
    user_agent: str,
    challenge: CodeChallenge | None = None,
) -> Signature:
    """Accept and sign the current revision with the customer's selection. ``challenge``: the
    one-time code the customer entered (``portal.stepup.code_check``), spent here with the
    signature.

    Locks the estimate row: of concurrent submissions exactly one signs, the others get a
    ServiceError. Refuses a revision other than the current, sent one (the contractor revised
    it since the customer loaded the page)."""
    with transaction.atomic():
        estimate = _lock_answerable(estimate=estimate, link=link)
        revision = estimate.current_revision
        if revision.sent_at is None or revision.number != revision_number:
            raise ServiceError(
                _(
                    "%(company)s updated this estimate since you opened it. Review the new version, then sign."
                )
                % {"company": estimate.company.name}
            )
        lines = list(revision.lines.all())
        selection = validate_selection(lines, selection)
        content = canonical.canonical_json(
            estimate=estimate,
            revision=revision,
            selection=selection,
            consent_text=signature.consent_text,
            language=signature.language,
            lines=lines,
        )
        from portal import stepup

        total = revision_totals(revision, selection, lines=lines).total
        verified_at, verified_by = None, ""
        if stepup.needed(estimate.company, total) and (
            challenge is None or challenge.link_id != link.pk or challenge.purpose != "sign"
        ):
            raise stepup.CodeRefused(_("Enter the code we sent you first."))
        if challenge is not None:
            verified_at, verified_by = stepup.code_spend(challenge=challenge), challenge.channel
        contact = link.contact
        now = timezone.now()
        record = Signature(
            company=estimate.company,
            estimate=estimate,
            revision=revision,
            link=link,
            link_reference=link.reference,
            contact=contact,
            contact_name=contact.name if contact is not None else "",
            step_up_channel=verified_by,
            step_up_verified_at=verified_at,
            signer_name=signature.signer_name,
            method=signature.method,
            image_svg=signature.image_svg,
            signed_at=now,
            ip_address=ip,
            user_agent=user_agent[:500],
            consent_text=signature.consent_text,
            selection=selection.as_json(),
            selection_summary=selection_summary(lines, selection),
            canonical_version=canonical.CANONICAL_VERSION,
            canonical_json=content,
            content_sha256=canonical.sha256_hex(content),
            sealed_at=now,
        )
        record.seal_key_id, record.seal = signature_seal.seal(record)
        record.save(force_insert=True)
        estimate.status = EstimateStatus.ACCEPTED
        estimate.accepted_revision = revision
        estimate.accepted_selection = selection.as_json()
        estimate.decided_at = now
        estimate.changes_message, estimate.changes_requested_at = "", None
        estimate.save(
            update_fields=[
                "status",
                "accepted_revision",
                "accepted_selection",
                "decided_at",
                "changes_message",
                "changes_requested_at",
                "updated_at",
            ]
        )
        activity.record(
            company=estimate.company,
            verb="estimate.accepted",
            actor=Actor.customer(signature.signer_name),
            target=estimate,
            customer=estimate.customer,
            data={
                "number": estimate.display_number,
                "revision": revision.number,
                "reference": link.reference,
                "sha256": record.content_sha256,
            },
        )
        figures = estimate.figures  # the accepted revision with the customer's choices
        _notify(
            estimate,
            "portal_estimate_accepted",
            signer=signature.signer_name,
            # The customer's name again after the signer's reads as a stutter: only when they differ.
            signed_for=""
            if signature.signer_name.strip().casefold() == estimate.customer.name.strip().casefold()
            else estimate.customer.name,
            total=format_cad(figures.total, "en-CA") if figures else "",
        )
        return record


def estimate_decline(*, estimate: Estimate, link: PortalLink, reason: str) -> Estimate:
    with transaction.atomic():
        estimate = _lock_answerable(estimate=estimate, link=link)
        estimate.status = EstimateStatus.DECLINED
        estimate.decline_reason = reason
        estimate.decided_at = timezone.now()
        estimate.changes_message, estimate.changes_requested_at = "", None
        estimate.save(
            update_fields=[
                "status",
                "decline_reason",
                "decided_at",
                "changes_message",
                "changes_requested_at",
                "updated_at",
            ]
        )
        activity.record(
            company=estimate.company,
            verb="estimate.declined",
            actor=Actor.customer(link.customer.name),
            target=estimate,
            customer=estimate.customer,
            data={"number": estimate.display_number, "reason": reason, "reference": link.reference},
        )
        _notify(estimate, "portal_estimate_declined", reason=reason)
        return estimate


def estimate_request_changes(*, estimate: Estimate, link: PortalLink, message: str) -> Estimate:
    """Pass the customer's message to the contractor and mark the estimate *changes
    requested* until a revised version is sent or the customer answers. The customer may still
    accept or decline the version they have; a later message replaces the open one."""
    with transaction.atomic():
        estimate = _lock_answerable(estimate=estimate, link=link)
        estimate.status = EstimateStatus.CHANGES_REQUESTED
        estimate.changes_message = message
        estimate.changes_requested_at = timezone.now()
        estimate.save(
            update_fields=["status", "changes_message", "changes_requested_at", "updated_at"]
        )
        activity.record(
            company=estimate.company,
            verb="estimate.changes_requested",
            actor=Actor.customer(link.customer.name),
            target=estimate,
            customer=estimate.customer,
            data={
                "number": estimate.display_number,
                "message": message,
                "reference": link.reference,
            },
        )
        _notify(estimate, "portal_changes_requested", message=message)
        return estimate


# --- Verification --------------------------------------------------------------------------------

SEAL_PROBLEMS = {
    "unsealed": gettext_lazy("The record has no seal."),
    "unknown-key": gettext_lazy("The record is sealed under a key this server does not have."),
    "bad-seal": gettext_lazy(
        "The signature record was changed after signing: its seal no longer matches the signer, "
        "time, IP address, browser, signature image, consent, options or signed content."
    ),
}


@dataclass(frozen=True)
class Verification:
    """The outcome of checking one signature: ``ok`` only when nothing at all disagrees."""

    signature: Signature
    stored_sha256: str
    computed_sha256: str
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def _snapshot_problems(signature: Signature) -> list[str]:
    """The stored snapshot against its fingerprint and against the revision as stored now."""
    problems = []
    if canonical.sha256_hex(signature.canonical_json) != signature.content_sha256:
        problems.append(_("The signed content does not match its SHA-256 fingerprint."))
    try:
        snapshot = json.loads(signature.canonical_json)
        stored_format = snapshot["format"]
        live = canonical.document_content(
            estimate=signature.estimate,
            revision=signature.revision,
            selection=Selection.from_json(signature.selection),
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return [*problems, _("The signed content cannot be read.")]
    if stored_format != canonical.FORMATS.get(signature.canonical_version):
        problems.append(_("The signed content is in an unexpected format."))
    if canonical.document_part(snapshot) != live:
        problems.append(
            _("The revision's lines, prices, options, terms or totals differ from what was signed.")
        )
    return problems


def _estimate_problems(signature: Signature) -> list[str]:
    """The estimate and link rows that point back at the signature must agree with it."""
    estimate, problems = signature.estimate, []
    if estimate.accepted_selection != signature.selection:
        problems.append(_("The estimate's accepted options differ from the signed ones."))
    if (
        estimate.status != EstimateStatus.ACCEPTED
        or estimate.accepted_revision_id != signature.revision_id
    ):
        problems.append(_("The estimate is no longer marked accepted with the signed revision."))
    if signature.link is not None and signature.link.reference != signature.link_reference:
        problems.append(_("The link on record differs from the link used to sign."))
    return problems


def signature_verify(*, signature: Signature) -> Verification:
    """Check every stored field of a signature: the keyed seal over the whole record, the
    snapshot's public SHA-256, the snapshot against the stored revision and selection, and the
    estimate's accepted revision and options. Read-only."""
    problems = []
    if not signature.seal:
        problems.append(str(SEAL_PROBLEMS["unsealed"]))
    elif (reason := signature_seal.check(signature)) is not None:
        problems.append(str(SEAL_PROBLEMS[reason]))
    problems += _snapshot_problems(signature)
    problems += _estimate_problems(signature)
    return Verification(
        signature=signature,
        stored_sha256=signature.content_sha256,
        computed_sha256=canonical.sha256_hex(signature.canonical_json),
        problems=tuple(problems),
    )


def choose_language(*, link: PortalLink, language: str) -> Customer:
    """The customer picked the language of their pages (and of what we send them next)."""
    with transaction.atomic():
        if language not in Language.values:
            raise ServiceError(_("Choose English or French."))
        customer = Customer.objects.select_for_update().get(pk=link.customer_id)
        if customer.language != language:
            customer.language = language
            customer.save(update_fields=["language"])
            activity.record_about(
                customer,
                "customer.updated",
                Actor.customer(customer.name),
                data={"name": customer.name},
            )
        return customer
