"""QuickBooks state changes the owner makes: connect, disconnect, tax codes, resolving a
customer match, resync. Each runs in one transaction and writes an activity row where the
company's timeline should show it."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.quickbooks import client, crypto, sync
from billing.quickbooks.client import QuickBooksError, Session
from billing.quickbooks.models import (
    ConnectionStatus,
    QuickBooksConnection,
    RecordKind,
    SyncRecord,
    SyncStatus,
    TaxMapping,
)
from billing.quickbooks.tasks import pull_company, push_record
from billing.quickbooks.taxes import tax_keys
from crewcommand.errors import ServiceError
from crewcommand.lib import activity
from crewcommand.lib.activity import Actor
from crewcommand.models import Company


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def setup_problem() -> str:
    """Why QuickBooks can't be connected on this installation, or ""."""
    if not client.is_enabled():
        return _(
            "QuickBooks is not set up on this CrewCommand installation: the administrator sets "
            "QUICKBOOKS_CLIENT_ID and QUICKBOOKS_CLIENT_SECRET (from an app on "
            "developer.intuit.com) and QUICKBOOKS_TOKEN_KEYS."
        )
    if not crypto.key_configured():
        return _(
            "QuickBooks tokens need an encryption key: the administrator sets "
            "QUICKBOOKS_TOKEN_KEYS (or QUICKBOOKS_TOKEN_SECRET)."
        )
    return ""


def connect_start() -> tuple[str, str]:
    """The Intuit consent URL and the state (>=128 bits) the callback must bring back."""
    problem = setup_problem()
    if problem:
        raise ServiceError(problem)
    state = secrets.token_urlsafe(32)
    try:
        return client.authorization_url(state=state), state
    except QuickBooksError as error:
        raise ServiceError(error.message) from None


def _company_facts(connection: QuickBooksConnection) -> None:
    """Name, tax codes and the item invoice lines use, read once at connect time."""
    session = Session(connection)
    info = session.read("CompanyInfo", connection.realm_id)
    connection.company_name = str(info.get("CompanyName", ""))[:200]
    connection.tax_codes = _read_tax_codes(session)
    items = [row for row in session.query_all("Item") if row.get("Type") == "Service"]
    preferred = [row for row in items if str(row.get("Name", "")).casefold() == "services"]
    connection.item_id = str((preferred or items or [{"Id": ""}])[0]["Id"])


def _read_tax_codes(session: Session) -> list[dict[str, Any]]:
    rates = {str(r["Id"]): str(r.get("RateValue", "")) for r in session.query_all("TaxRate")}
    codes = []
    for row in session.query_all("TaxCode"):
        details = (row.get("SalesTaxRateList") or {}).get("TaxRateDetail") or []
        codes.append(
            {
                "id": str(row["Id"]),
                "name": str(row.get("Name", "")),
                "rates": [rates.get(str(d["TaxRateRef"]["value"]), "") for d in details],
            }
        )
    return codes


def connect_finish(
    *, company: Company, actor: Actor, code: str, realm_id: str, state_ok: bool
) -> QuickBooksConnection:
    if not state_ok:
        raise ServiceError(_("That QuickBooks answer didn't come from this browser. Try again."))
    if not code or not realm_id:
        raise ServiceError(_("QuickBooks didn't connect. Try again."))
    try:
        tokens = client.exchange_code(code=code, realm_id=realm_id)
    except QuickBooksError as error:
        raise ServiceError(error.message) from None
    with transaction.atomic():
        connection, _created = QuickBooksConnection.objects.select_for_update().get_or_create(
            company=company
        )
        if connection.realm_id and connection.realm_id != realm_id:
            # Another QuickBooks company: the ids we stored belong to the old one.
            SyncRecord.objects.filter(company=company).exclude(from_quickbooks=True).update(
                qbo_id="", sync_token="", status=SyncStatus.PENDING, next_attempt_at=timezone.now()
            )
        client.store_tokens(connection, tokens)
        connection.realm_id = realm_id
        connection.environment = client.environment()[:20]
        connection.status = ConnectionStatus.CONNECTED
        connection.connected_at = timezone.now()
        connection.connected_by = actor.user
        connection.last_error = ""
        connection.save()
    try:
        _company_facts(connection)
    except QuickBooksError as error:
        connection.last_error = error.message[:500]
    with transaction.atomic():
        connection.save(update_fields=["company_name", "tax_codes", "item_id", "last_error"])
        # Records that waited for a connection go now.
        SyncRecord.objects.filter(
            company=company, status=SyncStatus.PENDING, next_attempt_at__isnull=True
        ).update(next_attempt_at=timezone.now())
        activity.record(
            company=company, verb="quickbooks.connected", actor=actor, data={"realm": realm_id}
        )
    return connection


def disconnect(*, company: Company, actor: Actor) -> None:
    """Revoke at Intuit (best effort) and forget the tokens. Sync state is kept, so
    reconnecting to the same QuickBooks company updates the same objects."""
    connection = QuickBooksConnection.objects.filter(company=company).first()
    if connection is None or connection.status == ConnectionStatus.DISCONNECTED:
        return
    token = crypto.decrypt(connection.refresh_token_encrypted)
    if token and client.is_enabled():
        # Intuit unreachable: the tokens are forgotten here all the same.
        with contextlib.suppress(QuickBooksError):
            client.revoke(token=token)
    with transaction.atomic():
        connection.status = ConnectionStatus.DISCONNECTED
        connection.access_token_encrypted = connection.refresh_token_encrypted = ""
        connection.access_expires_at = connection.refresh_expires_at = None
        connection.save()
        activity.record(company=company, verb="quickbooks.disconnected", actor=actor)


def tax_codes_refresh(*, company: Company) -> QuickBooksConnection:
    connection = QuickBooksConnection.objects.filter(
        company=company, status=ConnectionStatus.CONNECTED
    ).first()
    if connection is None:
        raise ServiceError(_("Connect QuickBooks first."))
    try:
        connection.tax_codes = _read_tax_codes(Session(connection))
    except QuickBooksError as error:
        raise ServiceError(error.message) from None
    connection.save(update_fields=["tax_codes", "updated_at"])
    return connection


@transaction.atomic
def tax_mapping_save(*, company: Company, actor: Actor, mapping: dict[str, str]) -> None:
    """Store every choice; invoices that waited for a tax code are pushed again."""
    known = {key for key, _label in tax_keys()}
    for key, code in mapping.items():
        if key in known:
            TaxMapping.objects.update_or_create(
                company=company, tax_key=key, defaults={"tax_code_id": code}
            )
    SyncRecord.objects.filter(
        company=company, kind=RecordKind.INVOICE, status=SyncStatus.ATTENTION
    ).update(status=SyncStatus.PENDING, next_attempt_at=timezone.now(), message="")
    activity.record(company=company, verb="quickbooks.tax_codes", actor=actor)


@transaction.atomic
def match_resolve(*, record: SyncRecord, actor: Actor, choice: str) -> SyncRecord:
    """The contractor's answer to an ambiguous customer match: a candidate's id, or "new"."""
    record = SyncRecord.objects.select_for_update().get(pk=record.pk)
    ids = {c["id"] for c in record.candidates}
    if record.kind != RecordKind.CUSTOMER or (choice != "new" and choice not in ids):
        raise ServiceError(_("Choose one of the QuickBooks customers, or a new one."))
    record.create_new = choice == "new"
    record.qbo_id = "" if record.create_new else choice
    record.sync_token = ""
    record.candidates = []
    record.status = SyncStatus.PENDING
    record.next_attempt_at = timezone.now()
    record.message = ""
    record.save()
    if not record.create_new:
        # The SyncToken is read fresh on the first update (a stale one is retried once).
        record.sync_token = "0"  # noqa: S105 - a SyncToken, not a secret
        record.save(update_fields=["sync_token"])
    sync.log(
        record.company_id, _("%(label)s: matched by hand.") % {"label": record.label}, record=record
    )
    _push_after_commit(record)
    return record


def resync(*, record: SyncRecord) -> SyncRecord:
    with transaction.atomic():
        sync.mark_pending(company_id=record.company_id, kind=record.kind, local_id=record.local_id)
        _push_after_commit(record)
    record.refresh_from_db()
    return record


def resync_invoice(*, company: Company, invoice_id: int, label: str) -> None:
    with transaction.atomic():
        record = sync.mark_pending(
            company_id=company.pk, kind=RecordKind.INVOICE, local_id=invoice_id, label=label
        )
        _push_after_commit(record)


def _push_after_commit(record: SyncRecord) -> None:
    push_record.delay_on_commit(record_id=record.pk)


def webhook_received(*, realm_ids: set[str]) -> int:
    """Pull payments now for each connected company a notification named (after commit)."""
    connections = list(
        QuickBooksConnection.objects.filter(
            realm_id__in=realm_ids, status=ConnectionStatus.CONNECTED
        ).values_list("pk", flat=True)
    )
    for connection_id in connections:
        pull_company.delay_on_commit(connection_id=connection_id)
    return len(connections)
