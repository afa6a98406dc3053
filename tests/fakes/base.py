"""A tiny threaded HTTP server that the provider fakes build on.

Only the standard library is used so the fakes run anywhere the test-suite runs.
Each fake binds 127.0.0.1 on a free port, serves from a daemon thread, records every
request it receives and can POST outgoing webhooks the way the real provider would.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake saw it; header names are stored lower-cased."""

    method: str
    path: str
    query_string: str
    query: dict[str, Any]
    headers: dict[str, str]
    body: bytes
    form: dict[str, Any]
    json: Any

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    body = json.dumps(payload, indent=2).encode()
    return Response(status, body, {"Content-Type": "application/json", **(headers or {})})


def html_response(html: str, status: int = 200) -> Response:
    return Response(status, html.encode(), {"Content-Type": "text/html; charset=utf-8"})


def redirect(location: str, status: int = 303) -> Response:
    return Response(status, b"", {"Location": location})


RouteHandler = Callable[[RecordedRequest, re.Match[str]], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: RouteHandler


@dataclass(frozen=True)
class Delivery:
    """The outcome of one outgoing webhook POST made by a fake."""

    url: str
    payload: bytes
    request_headers: dict[str, str]
    status: int | None
    body: bytes = b""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # Providers treat a 3xx answer to a webhook as a failed delivery; they never follow it.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# An empty ProxyHandler keeps loopback webhooks off any proxy configured in the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


def post(url: str, payload: bytes, headers: dict[str, str]) -> Delivery:
    """POST ``payload`` to ``url`` and report what happened without raising."""
    request = urllib.request.Request(url, data=payload, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as answer:
            return Delivery(url, payload, headers, answer.status, answer.read())
    except urllib.error.HTTPError as exc:
        return Delivery(url, payload, headers, exc.code, exc.read())
    except (urllib.error.URLError, OSError) as exc:
        return Delivery(url, payload, headers, None, error=str(exc))


class FakeServer:
    """Base class: routing, request recording, start/stop and reset.

    Subclasses register routes in ``setup_routes`` and (re)create their state in
    ``reset_state``. Handlers run on the server's worker threads, so any shared state
    must be touched under ``self.lock``; never hold the lock while making an outgoing
    HTTP call, because the receiver may call straight back into the fake.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.errors: list[str] = []
        self._requests: list[RecordedRequest] = []
        self._routes: list[Route] = []
        self._stalls: dict[str, float] = {}
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.setup_routes()
        self.reset()

    # -- hooks for subclasses -------------------------------------------------------------

    def setup_routes(self) -> None:
        """Register routes with ``add_route``."""

    def reset_state(self) -> None:
        """(Re)create all provider state and configuration to its defaults."""

    def parse_params(self, pairs: list[tuple[str, str]]) -> dict[str, Any]:
        """Turn decoded query/form pairs into the dict stored on ``RecordedRequest``."""
        return dict(pairs)

    def not_found(self, request: RecordedRequest) -> Response:
        return Response(404, b"not found", {"Content-Type": "text/plain"})

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        handler = type("BoundHandler", (_RequestHandler,), {"fake": self})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:54321``."""
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._httpd.server_port}"

    def reset(self) -> None:
        """Forget recorded requests, errors and all provider state (between tests)."""
        with self.lock:
            self._requests.clear()
            self.errors.clear()
            self._stalls.clear()
            self.reset_state()

    # -- routing --------------------------------------------------------------------------

    def add_route(self, method: str, pattern: str, handler: RouteHandler) -> None:
        self._routes.append(Route(method.upper(), re.compile(pattern), handler))

    def dispatch(self, request: RecordedRequest) -> Response:
        for route in self._routes:
            match = route.pattern.fullmatch(request.path)
            if match and route.method == request.method:
                return route.handler(request, match)
        return self.not_found(request)

    def stall(self, path_prefix: str, seconds: float) -> None:
        """Answer requests whose path starts with ``path_prefix`` only after ``seconds``: a
        provider that hangs (until ``reset``)."""
        with self.lock:
            self._stalls[path_prefix] = seconds

    def unstall(self, path_prefix: str | None = None) -> None:
        """Answer at once again (every path, or the one ``stall`` was given), keeping state."""
        with self.lock:
            if path_prefix is None:
                self._stalls.clear()
            else:
                self._stalls.pop(path_prefix, None)

    def respond(self, request: RecordedRequest) -> Response:
        with self.lock:
            delay = max(
                (s for p, s in self._stalls.items() if request.path.startswith(p)), default=0.0
            )
        if delay:
            time.sleep(delay)  # outside the lock: other requests go on being answered
        try:
            return self.dispatch(request)
        except Exception:
            # Keep the server alive but make the bug visible: fixtures fail the test on errors.
            trace = traceback.format_exc()
            with self.lock:
                self.errors.append(f"{request.method} {request.path}\n{trace}")
            log.error("fake %s crashed on %s %s\n%s", self, request.method, request.path, trace)
            return Response(500, trace.encode(), {"Content-Type": "text/plain"})

    # -- recorded requests ----------------------------------------------------------------

    def record(self, request: RecordedRequest) -> None:
        with self.lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self.lock:
            return list(self._requests)

    def requests_to(self, path_prefix: str, method: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if r.path.startswith(path_prefix) and (method is None or r.method == method.upper())
        ]

    def last_request(self, path_prefix: str = "", method: str | None = None) -> RecordedRequest:
        matching = self.requests_to(path_prefix, method)
        if not matching:
            raise LookupError(f"no {method or 'any'} request to {path_prefix!r} was recorded")
        return matching[-1]


class _RequestHandler(BaseHTTPRequestHandler):
    fake: FakeServer
    server_version = "FakeProvider/1.0"

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def _handle(self) -> None:
        request = self._read_request()
        self.fake.record(request)
        response = self.fake.respond(request)
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up waiting (a stalled answer, ``stall``): nothing to deliver.
            self.close_connection = True

    def _read_request(self) -> RecordedRequest:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        form: dict[str, Any] = {}
        parsed_json: Any = None
        if content_type == "application/x-www-form-urlencoded":
            form = self.fake.parse_params(_pairs(body.decode("utf-8", "replace")))
        elif content_type == "application/json" and body:
            try:
                parsed_json = json.loads(body)
            except ValueError:
                parsed_json = None
        return RecordedRequest(
            method=self.command,
            path=split.path,
            query_string=split.query,
            query=self.fake.parse_params(_pairs(split.query)),
            headers=headers,
            body=body,
            form=form,
            json=parsed_json,
        )

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", type(self.fake).__name__, format % args)


def _pairs(encoded: str) -> list[tuple[str, str]]:
    return parse_qsl(encoded, keep_blank_values=True)


class WebhookSink(FakeServer):
    """Accepts any request, answers ``status`` and records it: a stand-in webhook receiver."""

    status: int

    def reset_state(self) -> None:
        self.status = 200

    def dispatch(self, request: RecordedRequest) -> Response:
        return Response(self.status, b"ok", {"Content-Type": "text/plain"})
