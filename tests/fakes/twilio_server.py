"""A fake of Twilio's REST API 2010-04-01 (Messages), plus signed status callbacks.

The real ``twilio`` SDK builds absolute ``https://api.twilio.com/...`` URLs and hands
them to its ``http_client``; there is no base-URL setting. So the SDK is pointed at the
fake with an ``http_client`` that rewrites the Twilio host — the same class works in
production code (e.g. ``automations/sms.py``) behind a setting such as
``TWILIO_API_BASE``::

    from urllib.parse import urlsplit

    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    class BaseUrlTwilioHttpClient(TwilioHttpClient):
        '''Sends requests meant for *.twilio.com to ``base_url`` instead.'''

        def __init__(self, base_url: str, **kwargs):
            super().__init__(**kwargs)
            self.base_url = base_url.rstrip("/")

        def request(self, method, url, params=None, data=None, headers=None, auth=None,
                    timeout=None, allow_redirects=False):
            parts = urlsplit(url)
            if parts.hostname == "twilio.com" or (parts.hostname or "").endswith(".twilio.com"):
                url = self.base_url + url[len(f"{parts.scheme}://{parts.netloc}"):]
            return super().request(method, url, params, data, headers, auth, timeout,
                                   allow_redirects)

    client = Client(account_sid, auth_token, http_client=BaseUrlTwilioHttpClient(base))

Behaviour: HTTP basic auth must be the fake's ``account_sid``/``auth_token`` (20003 on
failure); ``To`` numbers in ``unsubscribed_numbers`` fail with 21610 and those in
``invalid_numbers`` (or not E.164) with 21211, like Twilio's magic test numbers
+15005550004 and +15005550001, which are the defaults.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator

from .base import (
    Delivery,
    FakeServer,
    RecordedRequest,
    Response,
    RouteHandler,
    json_response,
    post,
)

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake_twilio_auth_token_000000000"
API_VERSION = "2010-04-01"
MAGIC_INVALID_NUMBER = "+15005550001"
MAGIC_UNSUBSCRIBED_NUMBER = "+15005550004"
_E164 = re.compile(r"\+[1-9]\d{6,14}")
# GSM-7 characters fit 160 per SMS; anything else forces UCS-2 (70 per SMS).
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)


class BaseUrlTwilioHttpClient(TwilioHttpClient):
    """A ``TwilioHttpClient`` that sends requests meant for ``*.twilio.com`` to ``base_url``."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        parts = urlsplit(url)
        host = parts.hostname or ""
        # Match every Twilio host so edge/region settings (api.sydney.au1...) are caught too.
        if host == "twilio.com" or host.endswith(".twilio.com"):
            url = self.base_url + url[len(f"{parts.scheme}://{parts.netloc}") :]
        return super().request(method, url, params, data, headers, auth, timeout, allow_redirects)


class TwilioError(Exception):
    """Rendered as Twilio's legacy error body, which the SDK turns into TwilioRestException."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> Response:
        return json_response(
            {
                "code": self.code,
                "message": self.message,
                "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
                "status": self.status,
            },
            self.status,
        )


@dataclass(frozen=True)
class Callback:
    """A status callback or inbound-message webhook the fake sent, as delivered."""

    url: str
    params: dict[str, str]
    signature: str
    delivery: Delivery


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _rfc2822(moment: datetime) -> str:
    return format_datetime(moment)  # e.g. "Tue, 25 Nov 2025 22:00:00 +0000", as Twilio sends


def count_segments(body: str) -> int:
    if all(char in _GSM7 for char in body):
        single, multi, length = 160, 153, len(body)
    else:
        single, multi, length = 70, 67, len(body.encode("utf-16-le")) // 2
    if length <= single:
        return 1
    return -(-length // multi)


class TwilioFake(FakeServer):
    """Fake Twilio Messages API; ``deliver`` and ``send_inbound`` simulate its webhooks."""

    account_sid: str
    auth_token: str
    unsubscribed_numbers: set[str]
    invalid_numbers: set[str]
    messages: dict[str, dict[str, Any]]
    callbacks: list[Callback]

    def reset_state(self) -> None:
        self.account_sid = ACCOUNT_SID
        self.auth_token = AUTH_TOKEN
        self.unsubscribed_numbers = {MAGIC_UNSUBSCRIBED_NUMBER}
        self.invalid_numbers = {MAGIC_INVALID_NUMBER}
        self.messages = {}
        self.callbacks = []
        self._status_callbacks: dict[str, str] = {}
        # Seconds between accepting a new message and answering (a slow network back): a
        # client killed in that time never learns the message was created.
        self.reply_delay = 0.0

    def setup_routes(self) -> None:
        account = rf"/{API_VERSION}/Accounts/(?P<account>[^/]+)"
        self.add_route("POST", rf"{account}/Messages\.json", self._guarded(self._create_message))
        self.add_route("GET", rf"{account}/Messages\.json", self._guarded(self._list_messages))
        self.add_route(
            "GET", rf"{account}/Messages/(?P<sid>[^/]+)\.json", self._guarded(self._get_message)
        )

    def not_found(self, request: RecordedRequest) -> Response:
        return TwilioError(
            404, 20404, f"The requested resource {request.path} was not found"
        ).response()

    # -- plumbing -------------------------------------------------------------------------

    def _guarded(self, handler: RouteHandler) -> RouteHandler:
        def route(request: RecordedRequest, match: re.Match[str]) -> Response:
            try:
                self._authenticate(request, match["account"])
                with self.lock:
                    response = handler(request, match)
                    delay = self.reply_delay if request.method == "POST" else 0.0
            except TwilioError as exc:
                return exc.response()
            if delay:
                time.sleep(delay)  # created already; the answer is late
            return response

        return route

    def _authenticate(self, request: RecordedRequest, account: str) -> None:
        scheme, _, encoded = (request.header("Authorization") or "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = password = ""
        if scheme.lower() != "basic" or (user, password) != (self.account_sid, self.auth_token):
            raise TwilioError(401, 20003, "Authenticate")
        if account != self.account_sid:
            raise TwilioError(404, 20404, f"The requested resource {request.path} was not found")

    def _uri(self, sid: str | None = None) -> str:
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages"
        return f"{base}/{sid}.json" if sid else f"{base}.json"

    # -- Messages -------------------------------------------------------------------------

    def _create_message(self, request: RecordedRequest, _match: re.Match[str]) -> Response:
        form = request.form
        to, sender, service = form.get("To"), form.get("From"), form.get("MessagingServiceSid")
        body = form.get("Body", "")
        self._validate(to, sender, service, body, bool(form.get("MediaUrl")))
        now = _rfc2822(datetime.now(UTC))
        sid = new_sid("SM")
        message = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": service,
            "num_media": "1" if form.get("MediaUrl") else "0",
            "num_segments": str(count_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            # With only a Messaging Service, Twilio picks the sender later: "accepted".
            "status": "queued" if sender else "accepted",
            "subresource_uris": {"media": self._uri(sid).replace(".json", "/Media.json")},
            "to": to,
            "uri": self._uri(sid),
        }
        self.messages[sid] = message
        if form.get("StatusCallback"):
            self._status_callbacks[sid] = form["StatusCallback"]
        return json_response(message, 201)

    def _validate(
        self, to: str | None, sender: str | None, service: str | None, body: str, media: bool
    ) -> None:
        if not to:
            raise TwilioError(400, 21604, "A 'To' phone number is required.")
        if not sender and not service:
            raise TwilioError(400, 21603, "A 'From' phone number is required.")
        if not body and not media:
            raise TwilioError(400, 21602, "Message body is required.")
        if to in self.invalid_numbers or not _E164.fullmatch(to):
            raise TwilioError(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if to in self.unsubscribed_numbers:
            raise TwilioError(400, 21610, "Attempt to send to unsubscribed recipient")

    def _get_message(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        message = self.messages.get(match["sid"])
        if message is None:
            raise TwilioError(404, 20404, f"The requested resource {request.path} was not found")
        return json_response(message)

    def _list_messages(self, request: RecordedRequest, _match: re.Match[str]) -> Response:
        messages = [
            m
            for m in reversed(self.messages.values())
            if request.query.get("To") in (None, m["to"])
            and request.query.get("From") in (None, m["from"])
        ]
        page_size = int(request.query.get("PageSize", 50))
        uri = self._uri()
        return json_response(
            {
                "messages": messages[:page_size],
                "start": 0,
                "end": max(min(len(messages), page_size) - 1, 0),
                "page": 0,
                "page_size": page_size,
                "first_page_uri": f"{uri}?PageSize={page_size}&Page=0",
                "next_page_uri": None,
                "previous_page_uri": None,
                "uri": f"{uri}?PageSize={page_size}&Page=0",
            }
        )

    # -- helpers for tests ----------------------------------------------------------------

    def get(self, sid: str) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self.messages[sid])

    def sent_to(self, number: str) -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(m) for m in self.messages.values() if m["to"] == number]

    def deliver(
        self, sid: str, status: str = "delivered", error_code: int | None = None
    ) -> Callback:
        """Move a message to ``status`` and POST its signed StatusCallback, as Twilio does."""
        with self.lock:
            message = self.messages[sid]
            url = self._status_callbacks.get(sid)
            if url is None:
                raise ValueError(f"message {sid} was sent without a StatusCallback")
            now = _rfc2822(datetime.now(UTC))
            message.update(status=status, date_updated=now, error_code=error_code)
            if status in ("sent", "delivered") and message["date_sent"] is None:
                message["date_sent"] = now
            params = {
                "AccountSid": self.account_sid,
                "ApiVersion": API_VERSION,
                "From": message["from"] or "+15550000000",
                "MessageSid": sid,
                "MessageStatus": status,
                "SmsSid": sid,
                "SmsStatus": status,
                "To": message["to"],
            }
            if error_code is not None:
                params["ErrorCode"] = str(error_code)
        return self._send_webhook(url, params)

    def send_inbound(self, url: str, from_: str, to: str, body: str) -> Callback:
        """POST an incoming SMS (e.g. a "STOP" reply) to the app's messaging webhook."""
        if body.strip().upper() in ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"):
            with self.lock:  # Twilio blocks further sends to a number that opted out.
                self.unsubscribed_numbers.add(from_)
        sid = new_sid("SM")
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "Body": body,
            "From": from_,
            "MessageSid": sid,
            "NumMedia": "0",
            "NumSegments": str(count_segments(body)),
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": "received",
            "To": to,
        }
        return self._send_webhook(url, params)

    def sign(self, url: str, params: dict[str, str]) -> str:
        """The ``X-Twilio-Signature`` Twilio sends for a form POST of ``params`` to ``url``."""
        return RequestValidator(self.auth_token).compute_signature(url, params)

    def _send_webhook(self, url: str, params: dict[str, str]) -> Callback:
        signature = self.sign(url, params)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1",
            "X-Twilio-Signature": signature,
        }
        delivery = post(url, urlencode(params).encode(), headers)
        callback = Callback(url, params, signature, delivery)
        with self.lock:
            self.callbacks.append(callback)
        return callback
