"""Portal email: the link to the customer, and the customer's answers to the contractor.

Each message is queued after commit by a Celery task that takes ids and JSON values only. A link
email carries the link's URL *sealed* (``crewcommand.lib.sealed``): the raw token is never
readable in the broker, in task arguments shown by monitoring tools, or in logs.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from crewcommand.lib.canada import display_phone
from crewcommand.lib.money import format_cad
from crewcommand.lib.sealed import SealError, unseal
from crewcommand.models import Company, Customer, customer_language
from crewcommand.notifications import company_recipients, queue_email, render_email
from documents.models import Estimate, Invoice
from portal.models import PortalLink

logger = logging.getLogger(__name__)

# A queued link email must go out within this time; retries back off far less than this.
SEALED_URL_MAX_AGE = 3 * 86400


def queue_link_email(*, link: PortalLink, url: str, note: str = "") -> None:
    """Put the link email in the outbox, in the caller's transaction. The outbox keeps the raw
    link (and the note) sealed at rest and shows a redacted copy in the message log."""
    if not link.is_usable() or not link.sent_to:
        logger.info("portal link email skipped link=%s", link.pk)
        return
    # In the contact's language, else the customer's (rendered now: the outbox keeps the text).
    contact = link.contact
    language = (contact.language if contact else "") or customer_language(
        link.customer, link.company
    )
    with translation.override(language):
        context = link_email_context(
            company=link.company,
            customer=link.customer,
            document=link.document,
            url=url,
            expires_at=link.expires_at,
            note=note,
        )
        if contact is not None and not contact.is_primary:
            context["customer"] = contact.name  # "Hello <the person it goes to>"
        queue_email(
            company=link.company,
            to=link.sent_to,
            template=LINK_TEMPLATE,
            context=context,
            customer=link.customer,
            concerning=link.document,
        )
    logger.info("portal link email queued link=%s", link.reference)


def queue_link_sms(*, link: PortalLink, url: str) -> None:
    """Text the link to its contact (``link.sent_to``, a mobile number), in the outbox in the
    caller's transaction; the outbox keeps the link sealed at rest."""
    from crewcommand.messaging import queue

    if not link.is_usable() or not link.sent_to:
        logger.info("portal link text skipped link=%s", link.pk)
        return
    contact = link.contact
    language = (contact.language if contact else "") or customer_language(
        link.customer, link.company
    )
    document = link.document
    with translation.override(language):
        if isinstance(document, Estimate):
            body = _("%(company)s sent you estimate %(number)s: %(url)s")
        elif isinstance(document, Invoice):
            body = _("%(company)s sent you invoice %(number)s: %(url)s")
        else:
            body = _("%(company)s: your estimates and invoices: %(url)s")
        body = body % {
            "company": link.company.name,
            "number": document.display_number if document else "",
            "url": url,
        }
    queue(
        company=link.company,
        channel="sms",
        to=link.sent_to,
        body=body,
        customer=link.customer,
        concerning=document,
        template=LINK_TEMPLATE,
    )
    logger.info("portal link text queued link=%s", link.reference)


def deliver_link_email(*, link_id: int, sealed_url: str, sealed_note: str = "") -> None:
    """Tasks queued before the outbox existed: put their email in the outbox."""
    link = (
        PortalLink.objects.select_related(
            "company", "customer", "estimate__current_revision", "invoice"
        )
        .filter(pk=link_id)
        .first()
    )
    if link is None or not link.is_usable() or not link.sent_to:
        logger.info("portal link email skipped link=%s", link_id)
        return
    try:
        url = unseal(sealed_url, SEALED_URL_MAX_AGE)
        note = unseal(sealed_note, SEALED_URL_MAX_AGE) if sealed_note else ""
    except SealError:
        logger.warning("portal link email dropped: sealed URL rejected link=%s", link_id)
        return
    queue_link_email(link=link, url=url, note=note)


LINK_TEMPLATE = "portal_link"


def link_email_context(
    *,
    company: Company,
    customer: Customer,
    document: Estimate | Invoice | None,
    url: str,
    expires_at: dt.datetime | None,
    note: str = "",
) -> dict[str, str]:
    """Everything the link email says: the one source of its subject and body, for the email
    itself and for the preview the contractor sees before sending (``document_email_preview``).
    ``note`` is the contractor's own words, plain text (escaped in the HTML part)."""
    return {
        "company": company.name,
        "company_phone": display_phone(company.phone),
        "company_email": company.email,
        "customer": customer.name,
        "document": document.display_number if document else "",
        "kind": "estimate"
        if isinstance(document, Estimate)
        else "invoice"
        if isinstance(document, Invoice)
        else "",
        "url": url,
        "expires": date_format(timezone.localtime(expires_at), "DATE_FORMAT") if expires_at else "",
        "accent": company.brand_color,
        "note": note,
        **_document_context(document),
    }


def _document_context(document: Estimate | Invoice | None) -> dict[str, str]:
    """What the link email says of its document: that an estimate is a new version (revised
    since it was first sent), and an invoice's amount due and due date (with a Pay button)."""
    if isinstance(document, Estimate):
        revision = document.current_revision
        if revision is not None and revision.number > 1:
            return {"version": str(revision.number)}
    elif isinstance(document, Invoice):
        balance = document.balance
        if balance > 0:
            return {
                "amount_due": format_cad(balance),
                "due": date_format(document.due_date, "DATE_FORMAT") if document.due_date else "",
            }
    return {}


# Stand-ins for the note and the link while the preview renders the email: private-use
# characters, which no template text or name contains, so the text splits exactly there.
NOTE_MARK = "\ue000note\ue000"
LINK_MARK = "\ue000link\ue000"


@dataclass(frozen=True)
class EmailPreview:
    """A document's link email as its customer will get it, rendered by the same templates and
    context as the real one, before any link exists (nothing is written). ``parts`` is the
    plain-text body cut where the note and the link go: ``("text", …)``, ``("note", "")``,
    ``("link", url_shape)``."""

    to: str
    from_name: str
    reply_to: str
    subject: str
    parts: tuple[tuple[str, str], ...]

    def body(self, *, note: str, url: str) -> str:
        """The body the email will have with this note and link (what the preview shows)."""
        out = []
        for i, (kind, value) in enumerate(self.parts):
            if kind == "note":
                out.append(note)
            elif kind == "link":
                out.append(url)
            elif i and self.parts[i - 1][0] == "note" and not note:
                out.append(value.lstrip("\n"))  # no note: no empty paragraph where it goes
            else:
                out.append(value)
        return "".join(out)

    @property
    def shown_parts(self) -> tuple[tuple[str, str], ...]:
        """``parts`` for the page: the note's field is a box of its own, so the blank lines
        around it in the text are left to the box's margins."""
        shown = []
        for i, (kind, value) in enumerate(self.parts):
            if kind == "text":
                if i + 1 < len(self.parts) and self.parts[i + 1][0] == "note":
                    value = value.rstrip("\n")
                if i and self.parts[i - 1][0] == "note":
                    value = value.lstrip("\n")
                if i == len(self.parts) - 1:
                    value = value.rstrip()
            shown.append((kind, value))
        return tuple(shown)


def document_email_preview(*, document: Estimate | Invoice) -> EmailPreview:
    """The email ``share_document`` will send for ``document``, for the contractor to check (and
    add a note to) before it goes. Read-only: the link's address is shown by its shape."""
    company, customer = document.company, document.customer
    days = company.portal_link_days
    # The preview shows the email as the customer gets it: in the customer's language.
    with translation.override(customer_language(customer, company)):
        context = link_email_context(
            company=company,
            customer=customer,
            document=document,
            url=LINK_MARK,
            expires_at=timezone.now() + dt.timedelta(days=days) if days else None,
            note=NOTE_MARK,
        )
        subject, text, _html = render_email(template=LINK_TEMPLATE, context=context)
    parts: list[tuple[str, str]] = []
    for chunk in re.split(f"({NOTE_MARK}|{LINK_MARK})", text):
        if chunk == NOTE_MARK:
            parts.append(("note", ""))
        elif chunk == LINK_MARK:
            parts.append(("link", settings.SITE_URL + "/p/…/"))
        elif chunk:
            parts.append(("text", chunk))
    return EmailPreview(
        to=customer.email,
        from_name=company.name,
        reply_to=company.email,
        subject=subject,
        parts=tuple(parts),
    )


def queue_company_email(*, company: Company, template: str, context: dict[str, str]) -> None:
    """A notice to the company itself, into the outbox in the caller's transaction."""
    deliver_company_email(company_id=company.pk, template=template, context=context)


def deliver_company_email(*, company_id: int, template: str, context: dict[str, str]) -> None:
    company = Company.objects.filter(pk=company_id).first()
    if company is None:
        return
    # Mail to the company is English (the dashboard's language), whatever page triggered it.
    with translation.override(settings.LANGUAGE_CODE):
        for address in company_recipients(company):
            queue_email(
                company=company,
                to=address,
                template=template,
                context={**context, "company": company.name, "accent": company.brand_color},
            )


def dashboard_url(path: str) -> str:
    return settings.SITE_URL + path
