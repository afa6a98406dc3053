"""The one module that talks to Intuit: OAuth (intuit-oauth) and the Accounting API
(python-quickbooks). Every failure leaves as ``QuickBooksError`` with ``permanent`` set, so
retry logic lives in one place (``billing.quickbooks.sync``).

Tokens: the access token is refreshed when it is within ``QUICKBOOKS_REFRESH_MARGIN_SECONDS``
of expiry, and once more when QuickBooks answers 401. Refresh tokens rotate on every refresh,
so a refresh happens under the connection's row lock and the new pair is saved before the
lock is released. A refused refresh (``invalid_grant``) means the owner must reconnect.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError
from quickbooks import QuickBooks
from quickbooks import exceptions as qb_exceptions

from billing.quickbooks import crypto
from billing.quickbooks.models import ConnectionStatus, QuickBooksConnection

logger = logging.getLogger(__name__)

SCOPES = [Scopes.ACCOUNTING]
# Fault codes a retry will not fix (validation, stale objects, duplicates, bad references).
TRANSIENT_STATUS = {429, 500, 502, 503, 504}


class QuickBooksError(Exception):
    """A failed QuickBooks call. ``permanent``: retrying will not help. ``reconnect``: the
    owner must connect again. ``code``: QuickBooks' fault code when it gave one."""

    def __init__(
        self, message: str, *, permanent: bool, code: int = 0, reconnect: bool = False
    ) -> None:
        super().__init__(message)
        self.message, self.permanent, self.code, self.reconnect = (
            message,
            permanent,
            code,
            reconnect,
        )


def is_enabled() -> bool:
    return bool(settings.QUICKBOOKS_ENABLED)


def redirect_uri() -> str:
    return settings.QUICKBOOKS_REDIRECT_URI or (settings.SITE_URL + reverse("quickbooks:callback"))


def environment() -> str:
    """A discovery URL (a fake, or a proxy) when configured, else "sandbox"/"production"."""
    return settings.QUICKBOOKS_DISCOVERY_URL or settings.QUICKBOOKS_ENVIRONMENT


def auth_client(**tokens: Any) -> AuthClient:
    """A new intuitlib AuthClient (it fetches Intuit's discovery document)."""
    try:
        return AuthClient(
            settings.QUICKBOOKS_CLIENT_ID,
            settings.QUICKBOOKS_CLIENT_SECRET,
            redirect_uri(),
            environment=environment(),
            **tokens,
        )
    except (requests.RequestException, ValueError, KeyError) as error:
        raise QuickBooksError(f"Intuit could not be reached: {error}", permanent=False) from None


def authorization_url(*, state: str) -> str:
    return auth_client().get_authorization_url(SCOPES, state_token=state)


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int


def _tokens_of(client: AuthClient) -> Tokens:
    return Tokens(
        access_token=client.access_token or "",
        refresh_token=client.refresh_token or "",
        expires_in=int(client.expires_in or 3600),
        refresh_expires_in=int(client.x_refresh_token_expires_in or 0),
    )


def exchange_code(*, code: str, realm_id: str) -> Tokens:
    client = auth_client()
    try:
        client.get_bearer_token(code, realm_id=realm_id)
    except AuthClientError as error:
        raise QuickBooksError(
            f"Intuit refused the authorization ({error.status_code}).", permanent=True
        ) from None
    return _tokens_of(client)


def revoke(*, token: str) -> None:
    """Best effort: a token Intuit no longer knows is as good as revoked."""
    try:
        auth_client().revoke(token=token)
    except AuthClientError as error:
        logger.info("QuickBooks revoke answered %s", error.status_code)


def store_tokens(connection: QuickBooksConnection, tokens: Tokens) -> None:
    now = timezone.now()
    connection.access_token_encrypted = crypto.encrypt(tokens.access_token)
    connection.refresh_token_encrypted = crypto.encrypt(tokens.refresh_token)
    connection.access_expires_at = now + dt.timedelta(seconds=tokens.expires_in)
    connection.refresh_expires_at = (
        now + dt.timedelta(seconds=tokens.refresh_expires_in) if tokens.refresh_expires_in else None
    )


def _mark_reconnect(connection_id: int, message: str) -> None:
    QuickBooksConnection.objects.filter(pk=connection_id).update(
        status=ConnectionStatus.NEEDS_RECONNECT,
        last_error=message[:500],
        access_token_encrypted="",
        updated_at=timezone.now(),
    )


def refresh_tokens(
    *, connection_id: int, force: bool = False, used_access_token: str = ""
) -> QuickBooksConnection:
    """Refresh the access token under the row lock, unless it is still fresh, or (``force``,
    after a 401) another worker already replaced the token this caller used. Raises a
    ``reconnect`` error when Intuit refuses the refresh token; the connection then shows
    "needs reconnecting" and nothing retries until the owner connects again."""
    refused = ""
    with transaction.atomic():
        connection = QuickBooksConnection.objects.select_for_update().get(pk=connection_id)
        if connection.status != ConnectionStatus.CONNECTED:
            raise QuickBooksError(
                connection.last_error or "QuickBooks is not connected.",
                permanent=True,
                reconnect=True,
            )
        margin = dt.timedelta(seconds=settings.QUICKBOOKS_REFRESH_MARGIN_SECONDS)
        expires = connection.access_expires_at
        fresh = expires is not None and expires - margin > timezone.now()
        current = crypto.decrypt(connection.access_token_encrypted)
        if fresh and current and (not force or current != used_access_token):
            return connection
        refresh = crypto.decrypt(connection.refresh_token_encrypted)
        client = auth_client(refresh_token=refresh, realm_id=connection.realm_id)
        try:
            client.refresh(refresh_token=refresh)
        except (AuthClientError, ValueError) as error:
            status = getattr(error, "status_code", 400)
            if status in TRANSIENT_STATUS:
                raise QuickBooksError(
                    f"Intuit could not refresh the token ({status}).", permanent=False
                ) from None
            refused = "QuickBooks refused the saved authorization. Connect QuickBooks again."
        else:
            store_tokens(connection, _tokens_of(client))
            connection.save(
                update_fields=[
                    "access_token_encrypted",
                    "refresh_token_encrypted",
                    "access_expires_at",
                    "refresh_expires_at",
                    "updated_at",
                ]
            )
            return connection
    # Outside the block above, so the change is not rolled back with the raise.
    _mark_reconnect(connection_id, refused)
    raise QuickBooksError(refused, permanent=True, reconnect=True)


def _api_client(connection: QuickBooksConnection) -> QuickBooks:
    client = auth_client(
        access_token=crypto.decrypt(connection.access_token_encrypted),
        refresh_token=crypto.decrypt(connection.refresh_token_encrypted),
        realm_id=connection.realm_id,
    )
    qb = QuickBooks(
        auth_client=client,
        refresh_token=client.refresh_token,
        company_id=connection.realm_id,
        minorversion=settings.QUICKBOOKS_MINOR_VERSION,
        use_decimal=True,
    )
    if settings.QUICKBOOKS_API_BASE:
        qb.api_url_v3 = qb.sandbox_api_url_v3 = settings.QUICKBOOKS_API_BASE.rstrip("/")
    return qb


def _translate(error: Exception) -> QuickBooksError:
    if isinstance(error, requests.RequestException):
        return QuickBooksError(f"QuickBooks could not be reached: {error}", permanent=False)
    if isinstance(error, qb_exceptions.QuickbooksException):
        code = int(error.error_code or 0) if str(error.error_code).isdigit() else 0
        text = f"{error.message} {error.detail}".strip()
        if code == 10000 or code >= 10000:
            # python-quickbooks reports HTTP errors without a fault as 10000.
            transient = any(f"'{s}'" in text for s in map(str, TRANSIENT_STATUS))
            return QuickBooksError(text[:900], permanent=not transient, code=code)
        return QuickBooksError(str(error.detail or error.message)[:900], permanent=True, code=code)
    return QuickBooksError(str(error)[:900], permanent=False)


class Session:
    """API calls for one connection: refresh before expiry, once more on 401."""

    def __init__(self, connection: QuickBooksConnection) -> None:
        self.connection_id = connection.pk
        self.connection = refresh_tokens(connection_id=connection.pk)
        self.qb = _api_client(self.connection)

    def _call(self, fn: Callable[[QuickBooks], dict[str, Any]]) -> dict[str, Any]:
        try:
            return fn(self.qb)
        except qb_exceptions.AuthorizationException as error:
            if (
                int(error.error_code or 0) not in (401, 100)
                and "authentication" not in str(error.message).lower()
            ):
                raise _translate(error) from None
        except Exception as error:
            raise _translate(error) from None
        self.connection = refresh_tokens(
            connection_id=self.connection_id,
            force=True,
            used_access_token=self.qb.auth_client.access_token or "",
        )
        self.qb = _api_client(self.connection)
        try:
            return fn(self.qb)
        except qb_exceptions.AuthorizationException:
            message = "QuickBooks refused the connection. Connect QuickBooks again."
            _mark_reconnect(self.connection_id, message)
            raise QuickBooksError(message, permanent=True, reconnect=True) from None
        except Exception as error:
            raise _translate(error) from None

    def query(self, text: str) -> list[dict[str, Any]]:
        result = self._call(lambda qb: qb.query(text))
        response = result.get("QueryResponse", {})
        entity = text.split(" from ", 1)[1].split()[0] if " from " in text else ""
        return list(response.get(entity, []))

    def query_all(self, entity: str) -> list[dict[str, Any]]:
        """Every active row of ``entity`` (a constant name, never user input), 1000 at a time."""
        rows: list[dict[str, Any]] = []
        start = 1
        while True:
            page = self.query(
                f"select * from {entity} startposition {start} maxresults 1000"  # noqa: S608
            )
            rows.extend(page)
            if len(page) < 1000:
                return rows
            start += 1000

    def read(self, entity: str, entity_id: str) -> dict[str, Any]:
        result = self._call(lambda qb: qb.get_single_object(entity, entity_id))
        return result[entity]

    def save(self, entity: str, body: dict[str, Any], *, request_id: str) -> dict[str, Any]:
        """Create (no ``Id``) or update (``Id`` + ``SyncToken``). ``request_id`` makes a repeat
        of the same call return the first answer instead of a second object."""
        payload = json.dumps(body, default=str)
        if body.get("Id"):
            result = self._call(lambda qb: qb.update_object(entity, payload, request_id=request_id))
        else:
            result = self._call(lambda qb: qb.create_object(entity, payload, request_id=request_id))
        return result[entity]

    def void(self, entity: str, body: dict[str, Any], *, request_id: str) -> dict[str, Any]:
        """Void a transaction (``Id`` + ``SyncToken``): QuickBooks keeps it, at zero."""
        payload = json.dumps(body, default=str)
        result = self._call(
            lambda qb: qb.update_object(
                entity, payload, request_id=request_id, params={"operation": "void"}
            )
        )
        return result[entity]
