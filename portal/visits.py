"""Portal visits without a database write on the customer's request.

A portal page view used to run two UPDATEs in a transaction on every GET (the link's view
count, the document's "viewed" status). Now the request only touches the cache:

- **View counts**: each view adds one to the link's counter in the cache and keeps its first
  and last time and device there; the first view after a flush schedules
  ``portal.tasks.flush_link_views`` (a few seconds later, so a burst of views is one
  UPDATE). The flush moves the counts into ``PortalLink`` in one UPDATE and takes from the
  counter exactly what it wrote, so views that arrive meanwhile wait for the next flush
  instead of being lost.
- **"Viewed"**: the page knows the document's status already; only while it is still *sent*
  does the view queue ``portal.tasks.document_viewed`` (at most once per document per few
  minutes), which makes the conditional UPDATE and writes the activity row with the time of
  the view.

With tasks run inline (the embedded default, tests) both happen at once, as before. If the
cache cannot be reached, the view is written directly: a count is never dropped for it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from documents.models import Estimate, EstimateStatus, Invoice, InvoiceStatus
from portal.models import PortalLink

log = logging.getLogger(__name__)

# A document still "sent" queues its "viewed" task at most once per this many seconds.
VIEWED_DEBOUNCE = 300
# Pending counts outlive any flush delay by far; a day covers a broker outage.
PENDING_TTL = 24 * 3600


def _keys(link_id: int) -> dict[str, str]:
    base = f"portal:views:{link_id}"
    return {
        "count": f"{base}:n",
        "first": f"{base}:first",
        "last": f"{base}:last",
        "device": f"{base}:device",
        "scheduled": f"{base}:scheduled",
    }


def _redis():
    """The Redis client behind the cache, when it is Redis: the whole view then costs one
    round trip (one script) instead of one per cache call."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    backend = caches["default"]
    if isinstance(backend, RedisCache):
        return backend._cache.get_client(write=True)
    return None


def note_view(*, link: PortalLink, device: str, document: Estimate | Invoice | None = None) -> None:
    """Count one view of ``link`` (and of ``document``) without writing to the database."""
    from portal import services, tasks

    now = timezone.now()
    delay = settings.PORTAL_VIEW_FLUSH_SECONDS
    first_view = None
    if document is not None and _still_sent(document):
        kind = "estimate" if isinstance(document, Estimate) else "invoice"
        first_view = f"portal:viewed:{kind}:{document.pk}"
    try:
        client = _redis()
        if client is not None:
            schedule, first = _note_in_redis(client, link.pk, now, device, first_view)
        else:
            schedule, first = _note_in_cache(link.pk, now, device, first_view)
    except Exception:  # the cache is down: write this one view directly
        log.warning("portal view counted directly: cache unavailable", exc_info=True)
        services.link_record_view(link=link, device=device)
        schedule, first = False, first_view is not None
    if schedule:
        tasks.flush_link_views.apply_async(kwargs={"link_id": link.pk}, countdown=delay)
    if first:
        assert document is not None
        tasks.document_viewed.delay(
            kind="estimate" if isinstance(document, Estimate) else "invoice",
            document_id=document.pk,
            link_id=link.pk,
            at=now.isoformat(),
        )


# One view in one command (the script runs atomically in Redis): the count, first and last
# time and device, the flush's schedule flag and, while the document is still "sent", its
# "viewed" debounce. A pipeline of the same six commands cost about twice the CPU here
# (packing six commands and parsing six replies on every page view).
_NOTE_VIEW = """
redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('HSETNX', KEYS[1], 'first', ARGV[1])
redis.call('HSET', KEYS[1], 'last', ARGV[1], 'device', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
local scheduled = redis.call('SET', KEYS[2], 1, 'NX', 'EX', ARGV[4])
local first = false
if #KEYS > 2 then
  first = redis.call('SET', KEYS[3], 1, 'NX', 'EX', ARGV[5])
end
return {scheduled and 1 or 0, first and 1 or 0}
"""
_script: list[Any] = []  # the registered script (redis.commands.core.Script), made once


def _note_in_redis(
    client, link_id: int, now: dt.datetime, device: str, first_view: str | None
) -> tuple[bool, bool]:
    key = f"portal:views:{link_id}"
    if not _script:
        _script.append(client.register_script(_NOTE_VIEW))
    script = _script[0]
    keys = [key, f"{key}:scheduled", *([first_view] if first_view else [])]
    args = [
        now.isoformat(),
        device,
        PENDING_TTL,
        settings.PORTAL_VIEW_FLUSH_SECONDS * 6,
        VIEWED_DEBOUNCE,
    ]
    scheduled, first = script(keys=keys, args=args, client=client)
    return bool(scheduled), bool(first_view and first)


def _note_in_cache(
    link_id: int, now: dt.datetime, device: str, first_view: str | None
) -> tuple[bool, bool]:
    keys = _keys(link_id)
    cache.add(keys["count"], 0, PENDING_TTL)
    cache.incr(keys["count"])
    cache.add(keys["first"], now.isoformat(), PENDING_TTL)
    cache.set_many({keys["last"]: now.isoformat(), keys["device"]: device}, PENDING_TTL)
    schedule = cache.add(keys["scheduled"], 1, settings.PORTAL_VIEW_FLUSH_SECONDS * 6)
    first = bool(first_view and cache.add(first_view, 1, VIEWED_DEBOUNCE))
    return schedule, first


def _still_sent(document: Estimate | Invoice) -> bool:
    if isinstance(document, Estimate):
        return document.status == EstimateStatus.SENT
    return document.status == InvoiceStatus.SENT


def flush(*, link_id: int) -> int:
    """Write the link's pending views in one UPDATE; returns how many were written."""
    client = _redis()
    if client is not None:
        key = f"portal:views:{link_id}"
        # Cleared first: a view arriving from here on schedules the next flush itself.
        client.delete(f"{key}:scheduled")
        pending = {k.decode(): v.decode() for k, v in client.hgetall(key).items()}
    else:
        keys = _keys(link_id)
        cache.delete(keys["scheduled"])
        found = cache.get_many([keys["count"], keys["first"], keys["last"], keys["device"]])
        pending = {name: found.get(keys[name]) for name in ("count", "first", "last", "device")}
        pending["n"] = pending.pop("count")
    count = int(pending.get("n") or 0)
    if count <= 0:
        return 0
    last = _parse(pending.get("last")) or timezone.now()
    _write(link_id, count, _parse(pending.get("first")) or last, last, pending.get("device") or "")
    # Take away exactly what was written; views counted meanwhile stay for the next flush.
    if client is not None:
        if client.hincrby(key, "n", -count) <= 0:
            client.hdel(key, "first")
    else:
        try:
            left = cache.decr(keys["count"], count)
        except ValueError:  # the counter expired meanwhile: nothing is left to keep
            left = 0
        if left <= 0:
            cache.delete(keys["first"])
    return count


def _write(link_id: int, count: int, first: dt.datetime, last: dt.datetime, device: str) -> None:
    from portal import services

    services.link_record_views(link_id=link_id, count=count, first=first, last=last, device=device)


def _parse(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None
