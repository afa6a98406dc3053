"""Pushing records to QuickBooks and pulling payments back.

Every push goes through one ``SyncRecord``: a worker claims it with a conditional UPDATE
(PENDING/ERROR and due -> SYNCING); only the worker whose UPDATE changed the row goes on.
QuickBooks ids and SyncTokens are saved the moment QuickBooks answers, so a crash later in the
push can't lead to a second object; writes also carry a ``requestid`` derived from the
record and the payload, so a repeated call returns QuickBooks' first answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import (
    Payment,
    PaymentPurpose,
    PaymentStatus,
    Refund,
    RefundKind,
    RefundStatus,
)
from billing.quickbooks import taxes
from billing.quickbooks.client import QuickBooksError, Session
from billing.quickbooks.models import (
    CLAIMABLE,
    ConnectionStatus,
    QuickBooksConnection,
    RecordKind,
    SyncLog,
    SyncRecord,
    SyncStatus,
    TaxMapping,
)
from billing.services import payment_record
from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from crewcommand.lib.money import format_cad
from crewcommand.models import Customer
from documents.models import Invoice, InvoiceStatus, LineItem

logger = logging.getLogger(__name__)

STALE_CLAIM = dt.timedelta(minutes=10)
STALE_SYNC_TOKEN = 5010
DUPLICATE_NAME = 6240
INVALID_REFERENCE = 2500


@dataclass
class NeedsAttention(Exception):
    message: str
    candidates: list[dict[str, str]] = field(default_factory=list)


def log(company_id: int, message: str, *, record: SyncRecord | None = None, level: str = "info"):
    SyncLog.objects.create(
        company_id=company_id, record=record, message=message[:1000], level=level
    )


def connection_for(company_id: int) -> QuickBooksConnection | None:
    return QuickBooksConnection.objects.filter(
        company_id=company_id, status=ConnectionStatus.CONNECTED
    ).first()


# -- queueing and claiming ------------------------------------------------------------------


def mark_pending(*, company_id: int, kind: str, local_id: int, label: str = "") -> SyncRecord:
    """Ask for ``kind``/``local_id`` to be pushed (again). A record being pushed right now is
    flagged ``dirty`` instead, and goes back to pending when that push ends."""
    record, created = SyncRecord.objects.get_or_create(
        company_id=company_id,
        kind=kind,
        local_id=local_id,
        defaults={"label": label[:200], "next_attempt_at": timezone.now()},
    )
    if not created:
        now = timezone.now()
        SyncRecord.objects.filter(pk=record.pk, status=SyncStatus.SYNCING).update(
            dirty=True, updated_at=now
        )
        SyncRecord.objects.filter(pk=record.pk).exclude(status=SyncStatus.SYNCING).update(
            status=SyncStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            message="",
            label=label[:200] or F("label"),
            updated_at=now,
        )
    return record


def enqueue(*, company_id: int, kind: str, local_id: int, label: str = "") -> None:
    """Mark the record pending and push it in a Celery task after the transaction commits.
    Does nothing for a company without a QuickBooks connection."""
    status = (
        QuickBooksConnection.objects.filter(company_id=company_id)
        .values_list("status", flat=True)
        .first()
    )
    if status is None or status == ConnectionStatus.DISCONNECTED:
        return
    record = mark_pending(company_id=company_id, kind=kind, local_id=local_id, label=label)
    if status == ConnectionStatus.NEEDS_RECONNECT:
        # Kept for later: reconnecting makes it due (services.connect_finish).
        SyncRecord.objects.filter(pk=record.pk, status=SyncStatus.PENDING).update(
            next_attempt_at=None, message=_("Waiting for QuickBooks to be reconnected.")
        )
        return
    from billing.quickbooks.tasks import push_record

    push_record.delay_on_commit(record_id=record.pk)


def claim(record_id: int) -> SyncRecord | None:
    """Take the record for this worker, or None when another worker has it or it isn't due."""
    now = timezone.now()
    taken = SyncRecord.objects.filter(
        pk=record_id, status__in=CLAIMABLE, next_attempt_at__lte=now
    ).update(
        status=SyncStatus.SYNCING,
        claimed_at=now,
        attempts=F("attempts") + 1,
        dirty=False,
        updated_at=now,
    )
    return SyncRecord.objects.get(pk=record_id) if taken else None


def _finish(record: SyncRecord, status: str, message: str = "", **fields: Any) -> None:
    now = timezone.now()
    values: dict[str, Any] = {"status": status, "message": message[:1000], "updated_at": now}
    if status == SyncStatus.SYNCED:
        values.update(synced_at=now, candidates=[], attempts=0, next_attempt_at=None)
    values.update(fields)
    SyncRecord.objects.filter(pk=record.pk, status=SyncStatus.SYNCING).update(**values)
    # Changed while we pushed: push again with the new data.
    again = (
        SyncRecord.objects.filter(pk=record.pk, dirty=True)
        .exclude(status=SyncStatus.SYNCING)
        .update(status=SyncStatus.PENDING, dirty=False, attempts=0, next_attempt_at=now)
    )
    if again:
        from billing.quickbooks.tasks import push_record

        push_record.delay(record_id=record.pk)


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def push(record_id: int) -> str | None:
    """Push one record if this worker can claim it. Returns the status it ended in."""
    record = claim(record_id)
    if record is None:
        return None
    return _push_claimed(record)


def _push_claimed(record: SyncRecord, session: Session | None = None) -> str:
    connection = connection_for(record.company_id)
    if connection is None:
        _finish(
            record,
            SyncStatus.PENDING,
            _("Waiting for QuickBooks to be connected."),
            next_attempt_at=None,
        )
        return SyncStatus.PENDING
    try:
        session = session or Session(connection)
        PUSHERS[record.kind](session, record)
    except NeedsAttention as problem:
        log(record.company_id, f"{record.label}: {problem.message}", record=record, level="warning")
        _finish(
            record,
            SyncStatus.ATTENTION,
            problem.message,
            candidates=problem.candidates,
            next_attempt_at=None,
        )
        return SyncStatus.ATTENTION
    except QuickBooksError as error:
        return _failed(record, error)
    log(record.company_id, _("%(label)s synced.") % {"label": record.label}, record=record)
    _finish(record, SyncStatus.SYNCED)
    QuickBooksConnection.objects.filter(pk=connection.pk).update(
        last_sync_at=timezone.now(), last_error=""
    )
    if record.kind == RecordKind.INVOICE:
        _apply_waiting_deposits(record)
    return SyncStatus.SYNCED


def _apply_waiting_deposits(invoice_record: SyncRecord) -> None:
    """The invoice is in QuickBooks now: deposits paid on its estimate (pushed as unapplied
    payments) are applied to it, each by its own push."""
    deposits = Payment.objects.filter(
        company_id=invoice_record.company_id,
        invoice_id=invoice_record.local_id,
        purpose=PaymentPurpose.DEPOSIT,
        status=PaymentStatus.SUCCEEDED,
        applied=True,
    ).values_list("pk", flat=True)
    done = set(
        SyncRecord.objects.filter(
            company_id=invoice_record.company_id,
            kind=RecordKind.PAYMENT,
            local_id__in=list(deposits),
            applied_to=invoice_record.qbo_id,
        ).values_list("local_id", flat=True)
    )
    for payment_id in deposits:
        if payment_id not in done:
            enqueue(
                company_id=invoice_record.company_id, kind=RecordKind.PAYMENT, local_id=payment_id
            )


def _failed(record: SyncRecord, error: QuickBooksError) -> str:
    if error.reconnect:
        log(record.company_id, error.message, record=record, level="error")
        _finish(record, SyncStatus.PENDING, error.message, next_attempt_at=None)
        return SyncStatus.PENDING
    give_up = error.permanent or record.attempts >= settings.QUICKBOOKS_MAX_ATTEMPTS
    due = None if give_up else timezone.now() + _backoff(record.attempts)
    message = _("QuickBooks said: %(message)s") % {"message": error.message}
    log(record.company_id, f"{record.label}: {message}", record=record, level="error")
    _finish(record, SyncStatus.ERROR, message, next_attempt_at=due)
    QuickBooksConnection.objects.filter(company_id=record.company_id).update(
        last_error=message[:500]
    )
    return SyncStatus.ERROR


def _request_id(record: SyncRecord, body: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    return f"cc{record.pk}-{digest[:32]}"


def _link(record: SyncRecord, obj: dict[str, Any]) -> None:
    """Remember QuickBooks' id and SyncToken at once (before anything else can fail)."""
    record.qbo_id, record.sync_token = str(obj["Id"]), str(obj.get("SyncToken", "0"))
    SyncRecord.objects.filter(pk=record.pk).update(
        qbo_id=record.qbo_id, sync_token=record.sync_token
    )


def _save(
    session: Session,
    record: SyncRecord,
    entity: str,
    body: dict[str, Any],
    *,
    retry_stale: bool = True,
) -> dict[str, Any]:
    """Create or update; an update uses the stored Id and SyncToken, and when QuickBooks says
    the SyncToken is stale (someone edited it there) reads the current one and tries once more."""
    if record.qbo_id:
        body = {**body, "Id": record.qbo_id, "SyncToken": record.sync_token or "0", "sparse": True}
    try:
        obj = session.save(entity, body, request_id=_request_id(record, body))
    except QuickBooksError as error:
        if error.code != STALE_SYNC_TOKEN or not record.qbo_id or not retry_stale:
            raise
        current = session.read(entity, record.qbo_id)
        body = {**body, "SyncToken": str(current["SyncToken"])}
        obj = session.save(entity, body, request_id=_request_id(record, body))
    _link(record, obj)
    return obj


def _save_from_read(
    session: Session, record: SyncRecord, entity: str, body: dict[str, Any]
) -> dict[str, Any]:
    """An update whose body was built from the object as just read (all of a Payment's lines):
    if someone changed it since (stale SyncToken), resending the body would undo their change,
    so the push fails as transient and is built again from a fresh read when retried."""
    try:
        return _save(session, record, entity, body, retry_stale=False)
    except QuickBooksError as error:
        if error.code != STALE_SYNC_TOKEN:
            raise
        raise QuickBooksError(
            _("%(label)s changed in QuickBooks meanwhile; it will be read again.")
            % {"label": record.label},
            permanent=False,
        ) from None


def _dependency(
    session: Session, *, company_id: int, kind: str, local_id: int, label: str
) -> SyncRecord:
    """The customer of an invoice (or the invoice of a payment), pushed first when needed."""
    record, _created = SyncRecord.objects.get_or_create(
        company_id=company_id,
        kind=kind,
        local_id=local_id,
        defaults={"label": label, "next_attempt_at": timezone.now()},
    )
    if record.status == SyncStatus.SYNCED and record.qbo_id:
        return record
    if record.status == SyncStatus.ERROR:
        # Retried with the record that needs it, not on its own schedule.
        SyncRecord.objects.filter(pk=record.pk, status=SyncStatus.ERROR).update(
            next_attempt_at=timezone.now()
        )
    claimed = claim(record.pk)
    if claimed is not None:
        _push_claimed(claimed, session)
    record.refresh_from_db()
    if record.status == SyncStatus.SYNCED and record.qbo_id:
        return record
    if record.status == SyncStatus.PENDING and record.next_attempt_at is None:
        raise QuickBooksError(record.message, permanent=True, reconnect=True)  # waits to reconnect
    if record.status == SyncStatus.SYNCING or (
        record.status == SyncStatus.ERROR and record.next_attempt_at
    ):
        raise QuickBooksError(
            _("%(label)s is still being synced.") % {"label": label}, permanent=False
        )
    raise NeedsAttention(
        _("%(label)s must be synced first: %(message)s")
        % {"label": label, "message": record.message}
    )


# -- customers ------------------------------------------------------------------------------


def _customer_body(customer: Customer) -> dict[str, Any]:
    body: dict[str, Any] = {"DisplayName": customer.name[:500]}
    if customer.email:
        body["PrimaryEmailAddr"] = {"Address": customer.email}
    if customer.phone:
        body["PrimaryPhone"] = {"FreeFormNumber": customer.phone}
    if customer.address_line1 or customer.city:
        body["BillAddr"] = {
            "Line1": customer.address_line1,
            "City": customer.city,
            "CountrySubDivisionCode": customer.province,
            "PostalCode": customer.postal_code,
            "Country": "CA",
        }
    return body


def _email_of(row: dict[str, Any]) -> str:
    return str((row.get("PrimaryEmailAddr") or {}).get("Address") or "").strip().casefold()


def _candidate(row: dict[str, Any]) -> dict[str, str]:
    return {"id": str(row["Id"]), "name": str(row.get("DisplayName", "")), "email": _email_of(row)}


def match_customer(session: Session, customer: Customer) -> dict[str, Any] | None:
    """By email, then by display name. One match: that customer. None: create. More than one,
    or a same-named customer with another email: ``NeedsAttention`` with the candidates."""
    rows = session.query_all("Customer")
    email = customer.email.strip().casefold()
    if email:
        same_email = [row for row in rows if _email_of(row) == email]
        if len(same_email) == 1:
            return same_email[0]
        if len(same_email) > 1:
            raise NeedsAttention(
                _("Several QuickBooks customers have the email %(email)s. Choose one.")
                % {"email": customer.email},
                [_candidate(row) for row in same_email],
            )
    name = customer.name.strip().casefold()
    same_name = [row for row in rows if str(row.get("DisplayName", "")).strip().casefold() == name]
    if not same_name:
        return None
    if len(same_name) == 1 and (not email or not _email_of(same_name[0])):
        return same_name[0]
    raise NeedsAttention(
        _("A QuickBooks customer is named %(name)s but has another email. Is it the same customer?")
        % {"name": customer.name},
        [_candidate(row) for row in same_name],
    )


def push_customer(session: Session, record: SyncRecord) -> None:
    customer = Customer.objects.get(pk=record.local_id, company_id=record.company_id)
    body = _customer_body(customer)
    if not record.qbo_id and not record.create_new:
        found = match_customer(session, customer)
        if found is not None:
            _link(record, found)
            log(
                record.company_id,
                _("%(label)s matched QuickBooks customer %(id)s.")
                % {"label": record.label, "id": found["Id"]},
                record=record,
            )
    if record.create_new and not record.qbo_id:
        try:
            _save(session, record, "Customer", body)
        except QuickBooksError as error:
            if error.code != DUPLICATE_NAME:
                raise
            suffix = customer.email or customer.public_id
            _save(
                session,
                record,
                "Customer",
                {**body, "DisplayName": f"{customer.name} ({suffix})"[:500]},
            )
        return
    _save(session, record, "Customer", body)


# -- invoices -------------------------------------------------------------------------------


def _tax_codes(record: SyncRecord, session: Session) -> dict[str, str]:
    chosen = dict(
        TaxMapping.objects.filter(company_id=record.company_id).values_list(
            "tax_key", "tax_code_id"
        )
    )
    return taxes.effective_mapping(session.connection.tax_codes, chosen)


def _invoice_lines(
    invoice: Invoice, codes: dict[str, str], item_id: str, known: set[str]
) -> list[dict[str, Any]]:
    labels = dict(taxes.tax_keys())
    lines = []
    for line in invoice.lines.all():
        key = taxes.key_for(province=invoice.province, line=line)
        code = codes.get(key)
        if not code:
            raise NeedsAttention(
                _("Choose the QuickBooks tax code for “%(tax)s” on the tax codes page.")
                % {"tax": labels.get(key, key)}
            )
        if code not in known:
            raise NeedsAttention(
                _(
                    "The QuickBooks tax code chosen for “%(tax)s” (id %(id)s) is missing in "
                    "QuickBooks. Choose another on the tax codes page."
                )
                % {"tax": labels.get(key, key), "id": code}
            )
        lines.append(
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": line.amount,
                "Description": line.description[:4000],
                "SalesItemLineDetail": {
                    "ItemRef": {"value": item_id},
                    "Qty": line.quantity,
                    "UnitPrice": line.unit_price,
                    "TaxCodeRef": {"value": code},
                },
            }
        )
    return lines


def push_invoice(session: Session, record: SyncRecord) -> None:
    invoice = Invoice.objects.select_related("customer").get(
        pk=record.local_id, company_id=record.company_id
    )
    if invoice.status == InvoiceStatus.DRAFT:
        raise NeedsAttention(_("Drafts are not sent to QuickBooks; send the invoice first."))
    if invoice.status == InvoiceStatus.VOID:
        _void_invoice(session, record)
        return
    customer = _dependency(
        session,
        company_id=record.company_id,
        kind=RecordKind.CUSTOMER,
        local_id=invoice.customer_id,
        label=invoice.customer.name,
    )
    known = {str(code["id"]) for code in session.connection.tax_codes}
    lines = _invoice_lines(
        invoice, _tax_codes(record, session), session.connection.item_id or "1", known
    )
    if not record.qbo_id:
        # Our numbers are "INV-" and digits: nothing in them can change the query.
        number = invoice.display_number.replace("'", "")
        existing = session.query(f"select * from Invoice where DocNumber = '{number}'")  # noqa: S608
        if existing:
            raise NeedsAttention(
                _(
                    "Invoice %(number)s already exists in QuickBooks (id %(id)s). It was not created "
                    "again; rename or delete the one in QuickBooks, then resync."
                )
                % {"number": invoice.display_number, "id": existing[0]["Id"]}
            )
    body = {
        "CustomerRef": {"value": customer.qbo_id},
        "DocNumber": invoice.display_number,
        "TxnDate": invoice.issue_date.isoformat(),
        "DueDate": invoice.due_date.isoformat(),
        "GlobalTaxCalculation": "TaxExcluded",
        "Line": lines,
        # Our tax, computed once per document (documents.tax); QuickBooks is told the total.
        "TxnTaxDetail": {"TotalTax": invoice.tax_total},
        "PrivateNote": f"CrewCommand {invoice.public_id}",
    }
    try:
        obj = _save(session, record, "Invoice", body)
    except QuickBooksError as error:
        if error.code == INVALID_REFERENCE and "TaxCode" in error.message:
            raise NeedsAttention(
                _(
                    "A tax code on this invoice is missing in QuickBooks (%(detail)s). Read the "
                    "tax codes again and choose another on the tax codes page."
                )
                % {"detail": error.message}
            ) from None
        raise
    _same_total(
        obj,
        invoice.total,
        _(
            "QuickBooks computed a total of %(theirs)s, CrewCommand %(ours)s. Check the tax "
            "codes mapped for this invoice's province."
        ),
    )


def _same_total(obj: dict, ours: Decimal, message: str) -> None:
    """What QuickBooks saved totals ``ours`` to the cent, or the record needs attention with
    ``message`` (its ``%(theirs)s`` and ``%(ours)s`` filled in)."""
    theirs = Decimal(str(obj.get("TotalAmt", "0")))
    if theirs != ours:
        raise NeedsAttention(message % {"theirs": format_cad(theirs), "ours": format_cad(ours)})


def _void_invoice(session: Session, record: SyncRecord) -> None:
    """Voided here: voided in QuickBooks too (kept there at zero, as QuickBooks does), once.
    An invoice never sent to QuickBooks stays out of it."""
    if not record.qbo_id:
        return
    current = session.read("Invoice", record.qbo_id)
    if current.get("PrivateNote") == "Voided" and Decimal(str(current.get("TotalAmt", 0))) == 0:
        _link(record, current)
        return
    body = {"Id": record.qbo_id, "SyncToken": str(current["SyncToken"])}
    _link(record, session.void("Invoice", body, request_id=_request_id(record, body)))


# -- payments -------------------------------------------------------------------------------


def push_payment(session: Session, record: SyncRecord) -> None:
    payment = Payment.objects.select_related(
        "invoice", "invoice__customer", "estimate", "customer"
    ).get(pk=record.local_id, company_id=record.company_id)
    if payment.purpose == PaymentPurpose.DEPOSIT:
        push_deposit(session, record, payment)
        return
    if record.qbo_id:
        return  # payments don't change once recorded; a payment from QuickBooks is already there
    local_invoice = payment.invoice
    if payment.status != PaymentStatus.SUCCEEDED or local_invoice is None:
        raise NeedsAttention(_("Only payments applied to an invoice are sent to QuickBooks."))
    invoice = _dependency(
        session,
        company_id=record.company_id,
        kind=RecordKind.INVOICE,
        local_id=local_invoice.pk,
        label=local_invoice.display_number,
    )
    customer = SyncRecord.objects.get(
        company_id=record.company_id, kind=RecordKind.CUSTOMER, local_id=local_invoice.customer_id
    )
    day = payment.received_on or timezone.localdate(payment.succeeded_at or timezone.now())
    body = {
        "CustomerRef": {"value": customer.qbo_id},
        "TotalAmt": payment.amount,
        "TxnDate": day.isoformat(),
        "PaymentRefNum": (payment.reference or payment.public_id)[:21],
        "PrivateNote": f"CrewCommand {payment.public_id}",
        "Line": [
            {
                "Amount": payment.amount,
                "LinkedTxn": [{"TxnId": invoice.qbo_id, "TxnType": "Invoice"}],
            }
        ],
    }
    _save(session, record, "Payment", body)


# -- deposits -------------------------------------------------------------------------------
#
# Intuit's shape for money received before the invoice exists: a Payment with no lines (no
# LinkedTxn), which QuickBooks keeps as an unapplied credit on the customer's account
# (``UnappliedAmt``). When the invoice is made from the estimate and reaches QuickBooks, the
# same Payment is updated with a line linking it to the invoice (python-quickbooks'
# ``Payment``: "If any element in any line needs to be updated, all the Lines of a Payment
# have to be provided"), so the invoice's balance there drops by the deposit, as here.


def _deposit_kept(payment: Payment) -> Decimal:
    """What of the deposit still counts toward the invoice (``selectors.applied_net``)."""
    return payment.amount - payment.amount_refunded + payment.amount_refunded_goodwill


def push_deposit(session: Session, record: SyncRecord, payment: Payment) -> None:
    if payment.status != PaymentStatus.SUCCEEDED or not payment.applied:
        raise NeedsAttention(_("Only deposits that went through are sent to QuickBooks."))
    customer = _dependency(
        session,
        company_id=record.company_id,
        kind=RecordKind.CUSTOMER,
        local_id=payment.customer_id,
        label=payment.customer.name,
    )
    estimate_number = payment.estimate.display_number if payment.estimate else ""
    if not record.qbo_id:
        day = payment.received_on or timezone.localdate(payment.succeeded_at or timezone.now())
        body = {
            "CustomerRef": {"value": customer.qbo_id},
            "TotalAmt": payment.amount,
            "TxnDate": day.isoformat(),
            "PaymentRefNum": (payment.reference or payment.public_id)[:21],
            "PrivateNote": f"CrewCommand {payment.public_id} deposit on {estimate_number}",
        }
        _save(session, record, "Payment", body)
        log(
            record.company_id,
            _("%(label)s recorded in QuickBooks as a credit until the invoice exists.")
            % {"label": record.label},
            record=record,
        )
    if payment.invoice_id is None:
        return
    invoice = (
        SyncRecord.objects.filter(
            company_id=record.company_id,
            kind=RecordKind.INVOICE,
            local_id=payment.invoice_id,
            status=SyncStatus.SYNCED,
        )
        .exclude(qbo_id="")
        .first()
    )
    if invoice is None or record.applied_to == invoice.qbo_id:
        return  # applied when the invoice is synced (``_apply_waiting_deposits``)
    current = session.read("Payment", record.qbo_id)
    qbo_invoice = session.read("Invoice", invoice.qbo_id)
    amount = min(
        _deposit_kept(payment),
        Decimal(str(current.get("UnappliedAmt", current.get("TotalAmt", 0)))),
        Decimal(str(qbo_invoice.get("Balance", 0))),
    )
    if amount > 0:
        lines = [
            {"Amount": line["Amount"], "LinkedTxn": line.get("LinkedTxn", [])}
            for line in current.get("Line") or []
        ]
        lines.append(
            {"Amount": amount, "LinkedTxn": [{"TxnId": invoice.qbo_id, "TxnType": "Invoice"}]}
        )
        record.sync_token = str(current["SyncToken"])
        _save_from_read(
            session,
            record,
            "Payment",
            {
                "CustomerRef": {"value": customer.qbo_id},
                "TotalAmt": Decimal(str(current["TotalAmt"])),
                "Line": lines,
            },
        )
    record.applied_to = invoice.qbo_id
    SyncRecord.objects.filter(pk=record.pk).update(applied_to=invoice.qbo_id)
    log(
        record.company_id,
        _("%(label)s applied to %(number)s in QuickBooks (%(amount)s).")
        % {
            "label": record.label,
            "number": payment.invoice.display_number if payment.invoice else "",
            "amount": format_cad(max(amount, Decimal(0))),
        },
        record=record,
    )


# -- refunds --------------------------------------------------------------------------------
#
# A refund is a RefundReceipt (Intuit: "a refund to the customer for a product or service that
# was given"): the customer, the account the money left from (``DepositToAccountRef``: a Bank
# account), and sales lines with the tax codes of the document the refunded payment was for,
# so the income and the sales tax it reversed land where the sale put them. The refund's
# amount is split over the document's tax situations in proportion to their share of its total;
# each share is split into a net amount and the tax QuickBooks computes on it (per rate,
# rounded), and a cent that no net amount can reach goes on an exempt "rounding" line, so the
# receipt's total equals the refund to the cent (checked after saving).

CENT = Decimal("0.01")


def _percents(codes: list[dict[str, Any]], code_id: str) -> list[Decimal]:
    for code in codes:
        if str(code["id"]) == code_id:
            return [Decimal(str(rate)) for rate in code.get("rates") or [] if str(rate)]
    return []


def _gross(net: Decimal, percents: list[Decimal]) -> Decimal:
    # QuickBooks rounds each rate's tax half up, to the cent.
    return net + sum(
        ((net * p / 100).quantize(CENT, rounding=ROUND_HALF_UP) for p in percents), Decimal(0)
    )


def _net_within(gross: Decimal, percents: list[Decimal]) -> Decimal:
    """The largest net whose net + tax (each rate rounded, as QuickBooks does) is <= gross."""
    net = (gross / (1 + sum(percents, Decimal(0)) / 100)).quantize(CENT)
    while net > 0 and _gross(net, percents) > gross:
        net -= CENT
    while _gross(net + CENT, percents) <= gross:
        net += CENT
    return net


def refund_lines(
    amount: Decimal, weights: dict[str, Decimal], codes: list[dict[str, Any]], rounding_code: str
) -> list[dict[str, Any]]:
    """Lines for a refund of ``amount`` over tax codes weighted by their gross share of the
    document (``{code id: gross}``). Their total with QuickBooks' tax is ``amount``."""
    total_weight = sum(weights.values(), Decimal(0))
    items = sorted(weights.items(), key=lambda kv: kv[1])
    lines: list[tuple[str, Decimal, str]] = []
    left = amount
    for index, (code, weight) in enumerate(items):
        share = left if index == len(items) - 1 else (amount * weight / total_weight).quantize(CENT)
        share = min(share, left)
        net = _net_within(share, _percents(codes, code))
        if net > 0:
            lines.append((code, net, str(_("Refund"))))
            left -= _gross(net, _percents(codes, code))
    if left > 0:
        lines.append((rounding_code, left, str(_("Refund (rounding)"))))
    return [
        {
            "DetailType": "SalesItemLineDetail",
            "Amount": net,
            "Description": description,
            "SalesItemLineDetail": {"Qty": 1, "UnitPrice": net, "TaxCodeRef": {"value": code}},
        }
        for code, net, description in lines
    ]


def _refund_source_lines(payment: Payment) -> tuple[str, list[LineItem]]:
    """The document the refunded money paid for: its province and lines."""
    if payment.invoice is not None:
        return payment.invoice.province, list(payment.invoice.lines.all())
    estimate = payment.estimate
    revision = None
    if estimate is not None:
        revision = estimate.accepted_revision or estimate.current_revision
    if revision is None:
        return "", []
    return revision.province, [line for line in revision.lines.all() if line.selected_by_default]


def _refund_account(session: Session) -> str:
    banks = session.query("select * from Account where AccountType = 'Bank'")
    if not banks:
        raise NeedsAttention(
            _("QuickBooks has no bank account to record the refund from. Add one, then resync.")
        )
    return str(banks[0]["Id"])


def push_refund(session: Session, record: SyncRecord) -> None:
    refund = Refund.objects.select_related(
        "payment",
        "payment__customer",
        "payment__invoice",
        "payment__estimate__accepted_revision",
        "payment__estimate__current_revision",
    ).get(pk=record.local_id, company_id=record.company_id)
    if record.qbo_id:
        return  # a refund doesn't change once it went through
    if refund.status != RefundStatus.SUCCEEDED:
        raise NeedsAttention(_("Only refunds that went through are sent to QuickBooks."))
    payment = refund.payment
    if refund.kind == RefundKind.REVERSAL:
        _reverse_payment(session, record, refund)
        return
    customer = _dependency(
        session,
        company_id=record.company_id,
        kind=RecordKind.CUSTOMER,
        local_id=payment.customer_id,
        label=payment.customer.name,
    )
    province, source = _refund_source_lines(payment)
    codes = _tax_codes(record, session)
    known = {str(code["id"]) for code in session.connection.tax_codes}
    labels = dict(taxes.tax_keys())
    weights: dict[str, Decimal] = {}
    needed = [taxes.EXEMPT, *(taxes.key_for(province=province, line=line) for line in source)]
    for key in dict.fromkeys(needed):
        code = codes.get(key, "")
        if not code or code not in known:
            raise NeedsAttention(
                _("Choose the QuickBooks tax code for “%(tax)s” on the tax codes page.")
                % {"tax": labels.get(key, key)}
            )
    for item in source:
        code = codes[taxes.key_for(province=province, line=item)]
        weights[code] = weights.get(code, Decimal(0)) + _gross(
            item.amount, _percents(session.connection.tax_codes, code)
        )
    if not any(weight > 0 for weight in weights.values()):
        weights = {codes[taxes.EXEMPT]: Decimal(1)}
    lines = refund_lines(refund.amount, weights, session.connection.tax_codes, codes[taxes.EXEMPT])
    item_id = session.connection.item_id or "1"
    for line in lines:
        line["SalesItemLineDetail"]["ItemRef"] = {"value": item_id}
    day = timezone.localdate(refund.succeeded_at or refund.created_at)
    body = {
        "CustomerRef": {"value": customer.qbo_id},
        "TxnDate": day.isoformat(),
        "DepositToAccountRef": {"value": _refund_account(session)},
        "GlobalTaxCalculation": "TaxExcluded",
        "Line": lines,
        "PaymentRefNum": (refund.stripe_refund_id or refund.public_id)[:21],
        "PrivateNote": f"CrewCommand {refund.public_id} refund of payment {payment.public_id}",
    }
    obj = _save(session, record, "RefundReceipt", body)
    _same_total(
        obj,
        refund.amount,
        _(
            "QuickBooks recorded a refund of %(theirs)s, CrewCommand %(ours)s. Check the tax "
            "codes mapped for this document's province."
        ),
    )


def _reverse_payment(session: Session, record: SyncRecord, refund: Refund) -> None:
    """A reversal takes (part of) the payment back: the sale stands and the customer owes the
    amount again (``RefundKind``). In QuickBooks that is the same Payment, lowered: its total
    and the amount it applies to the invoice become what still counts here, so the invoice's
    balance goes back up and the money leaves Undeposited Funds, with no change to income or
    tax. The target is computed from every reversal on the payment, so pushes in any order, or
    twice, end the same."""
    payment = refund.payment
    label = _("Payment %(amount)s") % {"amount": format_cad(payment.amount)}
    paid = _dependency(
        session,
        company_id=record.company_id,
        kind=RecordKind.PAYMENT,
        local_id=payment.pk,
        label=label,
    )
    reversed_total = sum(
        (
            r.amount
            for r in payment.refunds.filter(status=RefundStatus.SUCCEEDED, kind=RefundKind.REVERSAL)
        ),
        Decimal(0),
    )
    target = max(payment.amount - reversed_total, Decimal(0))
    current = session.read("Payment", paid.qbo_id)
    total = Decimal(str(current.get("TotalAmt", 0)))
    if total != target:
        lines, room = [], target
        for line in current.get("Line") or []:
            amount = min(Decimal(str(line["Amount"])), room)
            room -= amount
            if amount > 0:
                lines.append({"Amount": amount, "LinkedTxn": line.get("LinkedTxn", [])})
        paid.sync_token = str(current["SyncToken"])
        body = {
            "CustomerRef": current["CustomerRef"],
            "TotalAmt": target,
            "Line": lines,
            "PrivateNote": f"CrewCommand {payment.public_id} (reversed {reversed_total})",
        }
        current = _save_from_read(session, paid, "Payment", body)
    _link(record, current)
    log(
        record.company_id,
        _("%(label)s: QuickBooks payment %(id)s lowered to %(amount)s.")
        % {"label": record.label, "id": current["Id"], "amount": format_cad(target)},
        record=record,
    )


PUSHERS: dict[str, Callable[[Session, SyncRecord], None]] = {
    RecordKind.CUSTOMER: push_customer,
    RecordKind.INVOICE: push_invoice,
    RecordKind.PAYMENT: push_payment,
    RecordKind.REFUND: push_refund,
}


# -- sweeping -------------------------------------------------------------------------------


def due_record_ids(limit: int = 200) -> list[int]:
    """Records whose retry is due, and claims left behind by a worker that died."""
    now = timezone.now()
    SyncRecord.objects.filter(status=SyncStatus.SYNCING, claimed_at__lt=now - STALE_CLAIM).update(
        status=SyncStatus.PENDING, next_attempt_at=now
    )
    return list(
        SyncRecord.objects.filter(status__in=CLAIMABLE, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def queue_changed_invoices(limit: int = 500) -> int:
    """Sent invoices that changed since their last push (or were never pushed) become pending."""
    from django.db.models import Exists, OuterRef

    connected = QuickBooksConnection.objects.filter(status=ConnectionStatus.CONNECTED).values(
        "company_id"
    )
    up_to_date = SyncRecord.objects.filter(
        company_id=OuterRef("company_id"), kind=RecordKind.INVOICE, local_id=OuterRef("pk")
    ).filter(Q(synced_at__gte=OuterRef("updated_at")) | ~Q(status=SyncStatus.SYNCED))
    changed = (
        Invoice.objects.filter(company_id__in=connected)
        .exclude(status=InvoiceStatus.DRAFT)
        .exclude(Exists(up_to_date))
        .values_list("pk", "company_id", "number")[:limit]
    )
    count = 0
    for pk, company_id, number in changed:
        mark_pending(
            company_id=company_id, kind=RecordKind.INVOICE, local_id=pk, label=f"INV-{number:04d}"
        )
        count += 1
    return count


def queue_changed_customers(limit: int = 500) -> int:
    """Customers already in QuickBooks whose details changed here since their last push."""
    from django.db.models import OuterRef, Subquery

    updated = Customer.objects.filter(pk=OuterRef("local_id")).values("updated_at")[:1]
    changed = (
        SyncRecord.objects.filter(
            kind=RecordKind.CUSTOMER,
            status=SyncStatus.SYNCED,
            company__quickbooks_connection__status=ConnectionStatus.CONNECTED,
        )
        .annotate(customer_updated=Subquery(updated))
        .filter(customer_updated__gt=F("synced_at"))
        .values_list("company_id", "local_id")[:limit]
    )
    count = 0
    for company_id, local_id in changed:
        mark_pending(company_id=company_id, kind=RecordKind.CUSTOMER, local_id=local_id)
        count += 1
    return count


# -- pulling payments -----------------------------------------------------------------------


def pull_payments(connection: QuickBooksConnection) -> int:
    """Payments entered in QuickBooks against synced, unpaid invoices are recorded here (as
    "other" payments, at most the open balance). Nothing local is ever deleted or lowered."""
    synced = SyncRecord.objects.filter(
        company_id=connection.company_id, kind=RecordKind.INVOICE, status=SyncStatus.SYNCED
    ).exclude(qbo_id="")
    by_local = {record.local_id: record for record in synced}
    open_invoices = [
        invoice
        for invoice in Invoice.objects.filter(pk__in=by_local, company_id=connection.company_id)
        if invoice.balance > 0 and invoice.status != InvoiceStatus.VOID
    ]
    if not open_invoices:
        return 0
    known = set(
        SyncRecord.objects.filter(company_id=connection.company_id, kind=RecordKind.PAYMENT)
        .exclude(qbo_id="")
        .values_list("qbo_id", flat=True)
    )
    session = Session(connection)
    recorded = 0
    for invoice in open_invoices:
        theirs = session.read("Invoice", by_local[invoice.pk].qbo_id)
        for link in theirs.get("LinkedTxn") or []:
            if link.get("TxnType") != "Payment" or str(link["TxnId"]) in known:
                continue
            qbo_payment = session.read("Payment", str(link["TxnId"]))
            applied = sum(
                (
                    Decimal(str(line["Amount"]))
                    for line in qbo_payment.get("Line", [])
                    if any(
                        str(t.get("TxnId")) == by_local[invoice.pk].qbo_id
                        for t in line.get("LinkedTxn", [])
                    )
                ),
                Decimal(0),
            )
            invoice.refresh_from_db()
            amount = min(applied, invoice.balance)
            if amount <= 0:
                continue
            try:
                _record_pulled(connection, invoice, link, qbo_payment, amount)
            except ServiceError as error:
                log(
                    connection.company_id,
                    _("A QuickBooks payment on %(number)s was not recorded: %(error)s")
                    % {"number": invoice.display_number, "error": error},
                    level="error",
                )
                continue
            known.add(str(link["TxnId"]))
            recorded += 1
    QuickBooksConnection.objects.filter(pk=connection.pk).update(last_pull_at=timezone.now())
    return recorded


def _record_pulled(
    connection: QuickBooksConnection,
    invoice: Invoice,
    link: dict[str, Any],
    qbo_payment: dict[str, Any],
    amount: Decimal,
) -> None:
    with transaction.atomic():
        payment = payment_record(
            actor=Actor.system(),
            amount=amount,
            method="other",
            received_on=dt.date.fromisoformat(str(qbo_payment.get("TxnDate"))[:10]),
            invoice=invoice,
            reference=f"QuickBooks {link['TxnId']}",
            note=_("Recorded in QuickBooks"),
        )
        SyncRecord.objects.update_or_create(
            company_id=connection.company_id,
            kind=RecordKind.PAYMENT,
            local_id=payment.pk,
            defaults={
                "label": _("Payment %(amount)s on %(number)s")
                % {"amount": format_cad(amount), "number": invoice.display_number},
                "status": SyncStatus.SYNCED,
                "qbo_id": str(link["TxnId"]),
                "sync_token": str(qbo_payment.get("SyncToken", "0")),
                "from_quickbooks": True,
                "synced_at": timezone.now(),
            },
        )
        log(
            connection.company_id,
            _("Payment of %(amount)s entered in QuickBooks recorded on %(number)s.")
            % {"amount": format_cad(amount), "number": invoice.display_number},
        )
