"""Whole rendered pages in the cache, with the per-request parts stitched in on every answer.

Customer pages (a portal document, the booking page, the review landing page) are the same
bytes for everyone who opens them, except for a few parts: the CSRF token (masked afresh for
every response, BREACH), the CSP nonce, the link's secret token in its URLs, and "holes" a
page chooses to render live (the portal's slots, which other apps fill). ``cached_page``
renders the page once, cuts it at those parts and stores the pieces; every later answer joins
the pieces with this request's values. Rendering the page's template and its widgets is most
of a page's cost; a join is microseconds.

**The key is the content, not an expiry.** Callers pass everything the page is made of, as
rows already loaded for the request (``row_state``: every concrete field of each row, so any
change to any field, by any code path, is a different key) plus the language, the local date
and the path. There is nothing to invalidate: a changed document, company, customer or
setting simply misses, and the stale entry ages out (``PAGE_CACHE_SECONDS``). ``CODE_VERSION``
(the templates', translations' and code's files) is in every key, so a deploy misses too.

**Two tiers.** Each process keeps the last ``LOCAL_ENTRIES`` pages it answered in its own
memory, in front of the shared cache: since a key names the content, a copy held in a process
can never be stale, and a hit there costs no round trip to Redis (about a third of a cached
page's CPU). A miss there falls through to the shared cache, then to a render.

**What never goes into the cache**: secrets. A link's token is cut out like the CSRF token
(the key holds only a hash of what the caller passes), so the cache holds no more than the
database does. A response that carries flash messages, or a status other than 200, is not
stored.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.middleware.csp import get_nonce
from django.middleware.csrf import get_token
from django.utils import translation

PAGE_CACHE_SECONDS = 24 * 3600
# Pages kept in each process's memory (a page's pieces are 3-30 kB).
LOCAL_ENTRIES = 256
_CSRF = re.compile(r'(?:name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")([A-Za-z0-9]{64})"')
_HOLE = "\x00hole:"


def _code_version() -> str:
    """A digest of the files a rendered page comes from (templates, translations, Python), by
    path, size and modification time: a deploy that changes any of them changes every key."""
    root = Path(settings.BASE_DIR)
    digest = hashlib.sha256()
    for top in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if top.name in {"node_modules", "staticfiles", "media", "tests", "bench", "docs"}:
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith((".html", ".py", ".mo", ".txt", ".json")):
                    stat = os.stat(os.path.join(dirpath, name))
                    digest.update(f"{dirpath}/{name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


CODE_VERSION = _code_version()


class _Local:
    """A small LRU of stored pages in this process's memory (the first tier)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[str, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self.lock:
            entry = self.entries.get(key)
            if entry is not None:
                self.entries.move_to_end(key)
            return entry

    def put(self, key: str, entry: Any) -> None:
        with self.lock:
            self.entries[key] = entry
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


_local = _Local(LOCAL_ENTRIES)


def forget_local() -> None:
    """Empty this process's tier (tests, after ``cache.clear()``)."""
    _local.clear()


def row_state(*rows: models.Model | None) -> tuple:
    """Every concrete field of each row (``None`` for a missing row): a key part that changes
    whenever anything stored in those rows does."""
    state: list[Any] = []
    for row in rows:
        if row is None:
            state.append(None)
            continue
        state.append(row._meta.label)
        state.extend(
            (field.attname, row.__dict__.get(field.attname)) for field in row._meta.concrete_fields
        )
    return tuple(state)


def row_digest(*rows: models.Model | None) -> str:
    """``row_state(*rows)`` as a short digest: the same key part in a few bytes, for a caller
    that keeps it with rows it reuses (``crewcommand.lib.recent``) instead of building and
    hashing every field again on each answer."""
    return hashlib.sha256(repr(row_state(*rows)).encode()).hexdigest()


def usable(request: HttpRequest) -> bool:
    """Whether this request may be answered from (and fill) the cache: a plain GET, not htmx,
    with no flash messages waiting and no signed-in session (a contractor previewing a
    customer page gets it rendered, as do the rare requests below)."""
    return (
        request.method == "GET"
        and not getattr(request, "htmx", False)
        and "messages" not in request.COOKIES
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
    )


def page_key(namespace: str, parts: Iterable[Any]) -> str:
    raw = repr((CODE_VERSION, translation.get_language(), *parts)).encode()
    return f"page:{namespace}:{hashlib.sha256(raw).hexdigest()}"


def hole_marker(name: str) -> str:
    """What a template outputs where a hole goes (``fill_hole(name)`` at every answer)."""
    return f"{_HOLE}{name}\x00"


def _cut(html: str, cuts: dict[str, str]) -> list[tuple[str, str]]:
    """``html`` as ``("text", s)`` and ``("cut", name)`` pieces: each value of ``cuts`` (longest
    first) and each hole marker becomes a named cut."""
    names = {value: name for name, value in cuts.items() if value}
    pattern = "|".join(
        [re.escape(value) for value in sorted(names, key=len, reverse=True)]
        + [re.escape(_HOLE) + r"([A-Za-z0-9_.:-]+)\x00"]
    )
    pieces: list[tuple[str, str]] = []
    at = 0
    for match in re.finditer(pattern, html):
        if match.start() > at:
            pieces.append(("text", html[at : match.start()]))
        hole = match.group(1)
        pieces.append(("cut", f"hole:{hole}" if hole else names[match.group(0)]))
        at = match.end()
    if at < len(html):
        pieces.append(("text", html[at:]))
    return pieces


def _join(
    request: HttpRequest,
    pieces: list[tuple[str, str]],
    values: dict[str, str],
    fill_hole: Callable[[str, dict[str, Any]], str],
    kept: dict[str, Any],
) -> str:
    out: list[str] = []
    for kind, value in pieces:
        if kind == "text":
            out.append(value)
        elif value == "csrf":
            if "csrf" not in values:
                values["csrf"] = get_token(request)
            out.append(values["csrf"])
        elif value == "nonce":
            out.append(str(get_nonce(request)))
        elif value.startswith("hole:"):
            out.append(fill_hole(value[5:], kept))
        else:
            out.append(values[value])
    return "".join(out)


def _no_hole(name: str, kept: dict[str, Any]) -> str:
    raise KeyError(name)


def cached_page(
    request: HttpRequest,
    *,
    namespace: str,
    key: Iterable[Any],
    render: Callable[[], HttpResponse],
    secrets_: dict[str, str] | None = None,
    fill_hole: Callable[[str, dict[str, Any]], str] = _no_hole,
    extra: Callable[[], dict[str, Any]] | None = None,
) -> HttpResponse:
    """The page for ``key``: from the cache, or ``render()``'d and stored.

    ``secrets_``: values (a link's token) cut out of the stored page and put back from this
    request. ``fill_hole(name, kept)``: the live HTML of each ``hole_marker(name)`` the
    template wrote, where ``kept`` is what ``extra()`` returned when the page was rendered
    (small picklable values the holes need, kept with the page)."""
    secret_values = dict(secrets_ or {})
    full_key = page_key(namespace, key)
    entry = _local.get(full_key)
    if entry is None:
        entry = cache.get(full_key)
        if entry is not None:
            _local.put(full_key, entry)
    if entry is not None:
        pieces, kept, headers = entry
        body = _join(request, pieces, dict(secret_values), fill_hole, kept)
        response = HttpResponse(body)
        for name, value in headers.items():
            response[name] = value
        return response
    response = render()
    html = response.content.decode()
    csrf = _CSRF.search(html)
    nonce = get_nonce(request)
    cuts = {
        **secret_values,
        "csrf": csrf.group(1) if csrf else "",
        "nonce": str(nonce) if nonce else "",
    }
    pieces = _cut(html, cuts)
    kept = extra() if extra is not None else {}
    storable = response.status_code == 200 and not getattr(request, "_messages", None)
    if storable:
        headers = {"Content-Type": response["Content-Type"]}
        cache.set(full_key, (pieces, kept, headers), PAGE_CACHE_SECONDS)
        _local.put(full_key, (pieces, kept, headers))
    values = {**secret_values}
    if csrf:
        values["csrf"] = csrf.group(1)  # the token this response already set up
    response.content = _join(request, pieces, values, fill_hole, kept).encode()
    return response
