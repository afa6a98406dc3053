"""Every change to automations, and their firing.

Event triggers: ``on_activity`` is subscribed to the activity log's verbs
(``crewcommand.lib.activity.subscribe``, from ``AutomationsConfig.ready()``); it runs inside the
transaction of the service that recorded the row, so the messages it queues (outbox rows,
``crewcommand.messaging.queue``) commit with the change that caused them, or not at all.
Time triggers: ``scan_due`` (a beat task) finds due follow-ups, overdue invoices and coming jobs.
Either way a firing first inserts its ``AutomationRun`` (unique per automation and object), so
an automation fires once per object, however often it is replayed.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from automations import formats as automation_formats
from automations import templating
from automations.defaults import rows_for
from automations.models import (
    Automation,
    AutomationRun,
    Channel,
    Recipient,
    RunOutcome,
    Trigger,
)
from billing import selectors as billing_selectors
from crewcommand import messaging
from crewcommand.lib import activity, variables
from crewcommand.lib.activity import Actor
from crewcommand.lib.money import format_cad
from crewcommand.messaging import consent
from crewcommand.models import (
    Activity,
    Company,
    Customer,
    Job,
    JobStatus,
    Language,
    PreferredChannel,
    customer_language,
)
from documents.models import (
    OPEN_ESTIMATE_STATUSES,
    OPEN_INVOICE_STATUSES,
    Estimate,
    Invoice,
)
from portal import services as portal_services
from portal.models import LinkChannel, PortalLink

logger = logging.getLogger(__name__)

# The activity verbs each event trigger follows.
EVENT_VERBS: dict[str, tuple[str, ...]] = {
    "estimate.sent": (Trigger.ESTIMATE_SENT,),
    "estimate.accepted": (Trigger.ESTIMATE_ACCEPTED,),
    "invoice.sent": (Trigger.INVOICE_SENT,),
    "payment.received": (Trigger.PAYMENT_RECEIVED,),
    "payment.recorded": (Trigger.PAYMENT_RECEIVED,),
    "job.created": (Trigger.JOB_SCHEDULED,),
    "job.status_changed": (Trigger.JOB_SCHEDULED, Trigger.JOB_COMPLETED),
    "service_request.received": (Trigger.SERVICE_REQUEST,),
}

# Batch size of one beat scan per trigger; the next scan takes the rest.
SCAN_BATCH = 500


# --- Editing -----------------------------------------------------------------------------------


EDITABLE = (
    "name",
    "trigger",
    "wait",
    "wait_unit",
    "channel",
    "recipient",
    "kind",
    "enabled",
    "subject",
    "body",
    "subject_fr",
    "body_fr",
)

# Triggers whose message can go either way: the Send's own email, or billing's receipt, goes
# with them, so an automation that only texts (or only emails) on them follows the customer's
# preferred channel, as "The customer's preferred channel" automations always do.
EITHER_WAY = frozenset({Trigger.ESTIMATE_SENT, Trigger.INVOICE_SENT, Trigger.PAYMENT_RECEIVED})


@transaction.atomic
def automation_save(
    *, company: Company, by: User, fields: dict[str, Any], automation: Automation | None = None
) -> Automation:
    """Create an automation, or change one of the company's (fields already validated)."""
    if automation is not None and automation.company_id != company.pk:
        raise ValueError("automation of another company")
    automation = automation or Automation(company=company)
    for name in EDITABLE:
        if name in fields:
            setattr(automation, name, fields[name])
    automation.full_clean(exclude=["company"])
    automation.save()
    activity.record(
        company=company,
        verb="automation.saved",
        actor=Actor.member(by),
        data={"name": automation.name},
    )
    return automation


@transaction.atomic
def automation_set_enabled(*, automation: Automation, enabled: bool, by: User) -> Automation:
    """Turn an automation on or off. Idempotent."""
    if automation.enabled != enabled:
        automation.enabled = enabled
        automation.save(update_fields=["enabled", "updated_at"])
        activity.record(
            company=automation.company,
            verb="automation.enabled" if enabled else "automation.disabled",
            actor=Actor.member(by),
            data={"name": automation.name},
        )
    return automation


def defaults_create(*, company: Company) -> int:
    """Give ``company`` the default automations it does not have yet (by key). Idempotent;
    returns how many were made."""
    rows = [Automation(**row) for row in rows_for(company.pk, french=True)]
    for row in rows:
        row.offset = row.compute_offset()
    mine = Automation.objects.filter(company=company).exclude(key="")
    before = mine.count()
    Automation.objects.bulk_create(rows, ignore_conflicts=True)
    return mine.count() - before


# No-break spaces (U+00A0, U+202F) become plain spaces in texts.
_SMS_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " "})


# --- Rendering ---------------------------------------------------------------------------------


@dataclass
class Rendered:
    """One message ready for the outbox, or the reason it can't go."""

    channel: str
    to: str
    subject: str = ""
    body: str = ""
    skipped: str = ""
    # The language the text is in ("en", "fr"), and whether it is not the recipient's (their
    # language's message is empty, so the other one goes).
    language: str = "en"
    fallback: bool = False


@dataclass
class _Values:
    """Variable values for one firing, computed once and only when a template uses them (the
    portal link is made once and shared by the SMS and the email)."""

    subject: variables.Subject
    link_channel: str
    cache: dict[str, str] = field(default_factory=dict)
    token: str | None = None
    link: PortalLink | None = None

    missing: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        """The value of ``{name}``; ``Unavailable`` if it has none, except in a preview,
        where the variable stays as written and the reason is kept in ``missing``."""
        if name not in self.cache:
            try:
                self.cache[name] = self._compute(name)
            except variables.Unavailable as unavailable:
                if not self.subject.preview:
                    raise
                self.missing[name] = str(unavailable.reason)
                self.cache[name] = "{" + name + "}"
        return self.cache[name]

    def _portal_token(self) -> str:
        s = self.subject
        if s.customer is None:
            raise variables.Unavailable(_("There is no customer to link to."))
        if s.preview:
            return "preview-link"
        if self.token is None:
            document = s.document if _document_visible(s.document) else None
            # Inside a Send of this document, the Send's own link (the one its email carries).
            issued = portal_services.send_link(
                customer=s.customer,
                document=document,
                channel=self.link_channel,
                sent_to=(s.customer.phone if self.link_channel == LinkChannel.SMS else "")
                or s.customer.email,
            )
            self.token, self.link = issued.token, issued.link
        return self.token

    def _compute(self, name: str) -> str:
        s = self.subject
        doc = s.document
        if name == "customer_name":
            return s.customer.name if s.customer else ""
        if name == "company_name":
            return s.company.name
        if name == "portal_link":
            return settings.SITE_URL + reverse("portal:home", args=[self._portal_token()])
        if name == "payment_link":
            if not isinstance(doc, Invoice):
                raise variables.Unavailable(_("{payment_link} needs an invoice."))
            if doc.balance <= 0:
                raise variables.Unavailable(_("The invoice has nothing left to pay."))
            return billing_selectors.payment_link(token=self._portal_token(), document=doc)
        if name == "document_number":
            if doc is None:
                raise variables.Unavailable(_("{document_number} needs an estimate or invoice."))
            return doc.display_number
        if name == "amount_due":
            if not isinstance(doc, Invoice):
                raise variables.Unavailable(_("{amount_due} needs an invoice."))
            return format_cad(doc.balance)
        if name == "due_date":
            if not isinstance(doc, Invoice):
                raise variables.Unavailable(_("{due_date} needs an invoice."))
            return formats.date_format(doc.due_date, automation_formats.due_date_format())
        if name == "job_date":
            if s.job is None or s.job.scheduled_start is None:
                raise variables.Unavailable(_("{job_date} needs a scheduled job."))
            when = timezone.localtime(s.job.scheduled_start, ZoneInfo(s.company.timezone))
            return automation_formats.job_date(when)
        return variables.provide(name, s)


def _document_visible(document: Any) -> bool:
    if isinstance(document, Estimate):
        return document.sent_at is not None
    if isinstance(document, Invoice):
        return document.status != "draft"
    return False


def _channels_for(automation: Automation, customer: Customer | None) -> list[tuple[str, str]]:
    """The channels the automation's message takes, each with the reason it is left out
    (empty when it goes): a preferred-channel automation takes the customer's channels
    (``consent.customer_channels``: their preference among those that can reach them); a
    one-channel automation on an either-way trigger is left out when the customer's channels
    do not include it. Messages to the company go where the automation says."""
    channel = automation.channel
    if channel == Channel.BOTH:
        return [(Channel.SMS, ""), (Channel.EMAIL, "")]
    if automation.recipient != Recipient.CUSTOMER or customer is None:
        return [(Channel.EMAIL if channel == Channel.PREFERRED else channel, "")]
    if channel == Channel.PREFERRED:
        return [(c, "") for c in consent.customer_channels(customer, automation.kind)]
    if (
        automation.trigger in EITHER_WAY
        and consent.reachable(customer, channel, automation.kind)
        and channel not in consent.customer_channels(customer, automation.kind)
    ):
        # (A channel that can't reach them at all is recorded with its own reason below.)
        return [(channel, _preference_reason(customer))]
    return [(channel, "")]


def _preference_reason(customer: Customer) -> str:
    if customer.preferred_channel == PreferredChannel.SMS:
        return _("The customer prefers texts.")
    return _("The customer prefers email.")


def _link_channel(automation: Automation, customer: Customer | None) -> str:
    """What a link made for this firing is recorded as sent by: SMS when a text goes."""
    going = [c for c, left_out in _channels_for(automation, customer) if not left_out]
    return LinkChannel.SMS if Channel.SMS in going else LinkChannel.EMAIL


def message_language(automation: Automation, subject: variables.Subject) -> str:
    """The language the recipient is served in: the customer's (their own choice, else the
    company's default); English for the company itself (the dashboard's language)."""
    if automation.recipient == Recipient.CUSTOMER and subject.customer is not None:
        return customer_language(subject.customer, subject.company)
    return str(Language.ENGLISH)


def _address(automation: Automation, subject: variables.Subject, channel: str) -> str:
    if automation.recipient == Recipient.COMPANY:
        holder: Any = subject.company
    elif subject.customer is None:
        return ""
    else:
        holder = subject.customer
    return holder.phone if channel == Channel.SMS else holder.email


def render(
    automation: Automation,
    subject: variables.Subject,
    values: _Values | None = None,
    *,
    language: str | None = None,
) -> list[Rendered]:
    """The messages ``automation`` makes for ``subject``, one per channel, each with its
    address, or the reason it is skipped (no address, not the customer's channel, a variable
    without a value). In the recipient's language (``language`` forces one: the editor's
    previews), or the other one when that language's message is empty (``fallback``); the
    variables (amounts, dates) read the way the text's language writes them."""
    texts = automation.texts(language or message_language(automation, subject))
    channels = _channels_for(automation, subject.customer)
    values = values or _Values(
        subject=subject, link_channel=_link_channel(automation, subject.customer)
    )
    out = []
    with translation.override(Language.FRENCH if texts.language == "fr" else Language.ENGLISH):
        for channel, left_out in channels:
            to = _address(automation, subject, channel)
            item = Rendered(
                channel=channel, to=to, language=texts.language, fallback=texts.fallback
            )
            if left_out:
                item.skipped = left_out
                if not subject.preview:  # (the preview still shows the text)
                    out.append(item)
                    continue
            elif not to and not subject.preview:
                item.skipped = (
                    _("No mobile number to text.")
                    if channel == Channel.SMS
                    else _("No email address.")
                )
                out.append(item)
                continue
            try:
                parts = [texts.body] + ([texts.subject] if channel == Channel.EMAIL else [])
                found = {n: values.get(n) for t in parts for n in templating.used(t)}
            except variables.Unavailable as missing:
                item.skipped = str(missing.reason)
                out.append(item)
                continue
            item.body = templating.render(texts.body, found)
            if channel == Channel.SMS:
                # French amounts carry no-break spaces (1 356,00 $), which GSM-7 lacks: one
                # would make the whole text UCS-2 (70 characters a part instead of 160).
                item.body = item.body.translate(_SMS_SPACES)
            if channel == Channel.EMAIL:
                item.subject = templating.render(texts.subject or automation.name, found)
            out.append(item)
    return out


def preview(
    automation: Automation, subject: variables.Subject, *, language: str | None = None
) -> tuple[list[Rendered], dict[str, str]]:
    """The editor's preview: the messages as ``subject``'s customer would get them (in
    ``language`` when given: the editor shows each language's), and the variables that would
    have no value (by name, with the reason). Writes nothing: links are shown by their shape."""
    values = _Values(subject=subject, link_channel=LinkChannel.SMS)
    return render(automation, subject, values, language=language), values.missing


# --- Firing ------------------------------------------------------------------------------------


def _claim(automation: Automation, kind: str, object_id: int, occurrence=None) -> bool:
    """Insert the run's row; False when this automation already fired for the object."""
    try:
        with transaction.atomic():
            AutomationRun.objects.create(
                company_id=automation.company_id,
                automation=automation,
                object_kind=kind,
                object_id=object_id,
                occurrence=occurrence,
                outcome=RunOutcome.SKIPPED,
            )
    except IntegrityError:
        return False
    return True


@transaction.atomic
def fire(
    *,
    automation: Automation,
    subject: variables.Subject,
    kind: str,
    object_id: int,
    occurrence: dt.datetime | None = None,
    concerning: Any = None,
    send_after: dt.datetime | None = None,
) -> AutomationRun | None:
    """Fire ``automation`` once for an object: queue its messages in the outbox, or record why
    not. Returns the run, or None when it had already fired for that object."""
    if not _claim(automation, kind, object_id, occurrence):
        return None
    queued, reasons = 0, []
    values = _Values(subject=subject, link_channel=_link_channel(automation, subject.customer))
    for item in render(automation, subject, values):
        if item.skipped:
            reasons.append(f"{item.channel}: {item.skipped}")
            continue
        if item.fallback:
            reasons.append(
                f"{item.channel}: "
                + (
                    _("no French message, sent in English")
                    if item.language == "en"
                    else _("no English message, sent in French")
                )
            )
        messaging.queue(
            company=subject.company,
            channel=item.channel,
            to=item.to,
            subject=item.subject,
            body=item.body,
            customer=subject.customer if automation.recipient == Recipient.CUSTOMER else None,
            concerning=concerning,
            kind=automation.kind,
            template=f"automation:{automation.public_id}",
            send_after=send_after,
            # The run row already makes this once; the key makes it so in the outbox too.
            key=f"automation:{automation.pk}:{kind}:{object_id}:"
            f"{occurrence.isoformat() if occurrence else ''}:{item.channel}",
        )
        queued += 1
        if (
            item.channel == Channel.SMS
            and values.link is not None
            and send_after is None
            and subject.customer is not None
            and consent.reachable(subject.customer, Channel.SMS, automation.kind)
        ):
            # The text carries the Send's link now: a customer who prefers texts gets no
            # email of it too (``portal.services.share_document``).
            portal_services.send_texted(document=subject.document, link=values.link)
    run = AutomationRun.objects.get(
        automation=automation, object_kind=kind, object_id=object_id, occurrence=occurrence
    )
    run.outcome = RunOutcome.QUEUED if queued else RunOutcome.SKIPPED
    run.messages = queued
    run.reason = "; ".join(reasons)[:300]
    run.save(update_fields=["outcome", "messages", "reason"])
    Automation.objects.filter(pk=automation.pk).update(last_fired_at=timezone.now())
    return run


def _event_subject(row: Activity, trigger: str) -> tuple[variables.Subject, Any] | None:
    """What an activity row is about, if the trigger applies to it."""
    target = row.target
    company = row.company
    if trigger in (Trigger.JOB_SCHEDULED, Trigger.JOB_COMPLETED):
        if not isinstance(target, Job):
            return None
        wanted = JobStatus.SCHEDULED if trigger == Trigger.JOB_SCHEDULED else JobStatus.COMPLETED
        if target.status != wanted:
            return None
        return variables.Subject(company, target.customer, job=target), target
    if isinstance(target, (Estimate, Invoice)):
        job = target.job
        return variables.Subject(company, target.customer, job=job, document=target), target
    return variables.Subject(company, row.customer), None


def on_activity(row: Activity) -> None:
    """Fire the company's enabled event automations that follow ``row``'s verb (subscribed to
    the activity log; runs in the recording service's transaction)."""
    triggers = EVENT_VERBS.get(row.verb, ())
    automations = list(
        Automation.objects.filter(company_id=row.company_id, enabled=True, trigger__in=triggers)
    )
    for automation in automations:
        found = _event_subject(row, automation.trigger)
        if found is None:
            continue
        subject, concerning = found
        send_after = timezone.now() + automation.offset if automation.offset else None
        fire(
            automation=automation,
            subject=subject,
            kind="activity",
            object_id=row.pk,
            concerning=concerning,
            send_after=send_after,
        )


# --- The beat scan -----------------------------------------------------------------------------


def _not_fired(kind: str, occurrence: Any = None) -> Exists:
    return Exists(
        AutomationRun.objects.filter(
            automation_id=OuterRef("automation_id"),
            object_kind=kind,
            object_id=OuterRef("pk"),
            occurrence=occurrence,
        )
    )


def _with_automations(qs: QuerySet, trigger: str) -> QuerySet:
    return qs.filter(
        company__automations__trigger=trigger, company__automations__enabled=True
    ).annotate(
        automation_id=F("company__automations__id"),
        automation_offset=F("company__automations__offset"),
    )


def due_estimates(now: dt.datetime) -> QuerySet[Estimate]:
    """Sent estimates not answered (accepted, declined, expired) ``offset`` after sending."""
    qs = _with_automations(Estimate.objects.all(), Trigger.ESTIMATE_UNANSWERED)
    return qs.filter(
        status__in=OPEN_ESTIMATE_STATUSES, sent_at__lte=Value(now) - F("automation_offset")
    ).exclude(_not_fired("estimate"))


def due_invoices(now: dt.datetime) -> QuerySet[Invoice]:
    """Open invoices with a balance, due ``offset`` ago or longer."""
    qs = _with_automations(Invoice.objects.all(), Trigger.INVOICE_OVERDUE)
    return qs.filter(
        status__in=OPEN_INVOICE_STATUSES,
        total__gt=F("deposit_credit") + F("amount_paid"),
        due_date__lte=TruncDate(Value(now) - F("automation_offset")),
    ).exclude(_not_fired("invoice"))


def due_jobs(now: dt.datetime) -> QuerySet[Job]:
    """Scheduled jobs starting within ``offset`` (and not started yet), once per start time."""
    qs = _with_automations(Job.objects.all(), Trigger.JOB_REMINDER)
    return qs.filter(
        status=JobStatus.SCHEDULED,
        scheduled_start__gt=now,
        scheduled_start__lte=Value(now) + F("automation_offset"),
    ).exclude(_not_fired("job", OuterRef("scheduled_start")))


def scan_due(*, now: dt.datetime | None = None) -> int:
    """Fire every time trigger that is due; returns how many fired. Constant queries to find
    them (one per trigger, and one to load their automations); each firing is then claimed by
    its unique run row, so two scans at once, or a scan run again, fire nothing twice."""
    now = now or timezone.now()
    found: list[tuple[str, Any]] = []
    for kind, qs in (
        ("estimate", due_estimates(now).select_related("company", "customer", "job")),
        ("invoice", due_invoices(now).select_related("company", "customer", "job")),
        ("job", due_jobs(now).select_related("company", "customer")),
    ):
        found.extend((kind, obj) for obj in qs.order_by("pk")[:SCAN_BATCH])
    by_id = Automation.objects.in_bulk({obj.automation_id for _k, obj in found})
    fired = 0
    for kind, obj in found:
        automation = by_id[obj.automation_id]
        if kind == "job":
            subject = variables.Subject(obj.company, obj.customer, job=obj)
        else:
            subject = variables.Subject(obj.company, obj.customer, job=obj.job, document=obj)
        run = fire(
            automation=automation,
            subject=subject,
            kind=kind,
            object_id=obj.pk,
            occurrence=obj.scheduled_start if kind == "job" else None,
            concerning=obj,
        )
        fired += run is not None
    return fired


def preview_subject(*, company: Company, customer: Customer, trigger: str) -> variables.Subject:
    """A realistic subject for the editor's preview: the customer's latest document of the
    trigger's kind and latest job (reads only)."""
    document: Any = None
    if trigger.startswith("estimate"):
        document = Estimate.objects.filter(customer=customer).order_by("-created_at").first()
    elif trigger.startswith("invoice") or trigger == Trigger.PAYMENT_RECEIVED:
        document = Invoice.objects.filter(customer=customer).order_by("-created_at").first()
    job = Job.objects.filter(customer=customer).filter(
        Q(scheduled_start__isnull=False) | Q(status=JobStatus.COMPLETED)
    ).order_by("-scheduled_start").first() or (document.job if document is not None else None)
    return variables.Subject(company, customer, job=job, document=document, preview=True)
