"""Openings of the review landing page without a task or a database write per request.

The landing page used to hand every opening to a Celery task (about 1.3 ms of kombu per
request, most of the page's cost). It now counts openings the way portal views are counted
(``portal/visits.py``):

- each opening adds one to the request's counter in a Redis hash and keeps the first and last
  time there, in one command (a small Lua script run by ``EVALSHA``: one round trip and one
  reply, where a five-command pipeline had five replies to parse);
- the first opening after a flush schedules ``reviews.tasks.flush_review_opens`` a few seconds
  later (``PORTAL_VIEW_FLUSH_SECONDS``), so a burst of openings is one UPDATE; the flush takes
  from the counter exactly what it wrote, so openings that arrive meanwhile wait for the next
  flush instead of being lost;
- if the cache cannot be reached, the opening is written directly: a count is never dropped.

With tasks run inline (the embedded default, tests) the flush runs at once, as before. The
click through to Google (``/go/``) is rare and stays one task per click.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

log = logging.getLogger(__name__)

# Pending counts outlive any flush delay by far; a day covers a broker outage.
PENDING_TTL = 24 * 3600


def _base(request_id: int) -> str:
    return f"reviews:opens:{request_id}"


def _redis():
    """The Redis client behind the cache, when it is Redis (one pipeline per opening)."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    backend = caches["default"]
    if isinstance(backend, RedisCache):
        return backend._cache.get_client(write=True)
    return None


def note_open(*, request_id: int) -> None:
    """Count one opening of the review request's landing page, without writing to the
    database (unless the cache is down)."""
    from reviews import services, tasks

    now = timezone.now()
    try:
        client = _redis()
        if client is not None:
            schedule = _note_in_redis(client, request_id, now)
        else:
            schedule = _note_in_cache(request_id, now)
    except Exception:  # the cache is down: write this one opening directly
        log.warning("review opening counted directly: cache unavailable", exc_info=True)
        services.review_record_opens(request_id=request_id, count=1, first=now, last=now)
        return
    if schedule:
        tasks.flush_review_opens.apply_async(
            kwargs={"request_id": request_id}, countdown=settings.PORTAL_VIEW_FLUSH_SECONDS
        )


# One opening as one command (EVALSHA; redis-py sends EVAL once if the server lacks the
# script): what the five-command pipeline did, with one reply to read instead of five. Returns
# 1 when this opening must schedule the flush.
_NOTE = """
redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('HSETNX', KEYS[1], 'first', ARGV[1])
redis.call('HSET', KEYS[1], 'last', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
if redis.call('SET', KEYS[2], 1, 'NX', 'EX', ARGV[3]) then return 1 end
return 0
"""
_script: Any = None


def _note_in_redis(client, request_id: int, now: dt.datetime) -> bool:
    global _script
    if _script is None:
        _script = client.register_script(_NOTE)  # its SHA is computed once
    key = _base(request_id)
    scheduled = _script(
        keys=[key, f"{key}:scheduled"],
        args=[now.isoformat(), PENDING_TTL, settings.PORTAL_VIEW_FLUSH_SECONDS * 6],
        client=client,
    )
    return bool(scheduled)


def _note_in_cache(request_id: int, now: dt.datetime) -> bool:
    base = _base(request_id)
    cache.add(f"{base}:n", 0, PENDING_TTL)
    cache.incr(f"{base}:n")
    cache.add(f"{base}:first", now.isoformat(), PENDING_TTL)
    cache.set(f"{base}:last", now.isoformat(), PENDING_TTL)
    return cache.add(f"{base}:scheduled", 1, settings.PORTAL_VIEW_FLUSH_SECONDS * 6)


def flush(*, request_id: int) -> int:
    """Write the request's pending openings in one UPDATE; returns how many were written."""
    from reviews import services

    key = _base(request_id)
    client = _redis()
    if client is not None:
        # Cleared first: an opening arriving from here on schedules the next flush itself.
        client.delete(f"{key}:scheduled")
        pending = {k.decode(): v.decode() for k, v in client.hgetall(key).items()}
    else:
        cache.delete(f"{key}:scheduled")
        found = cache.get_many([f"{key}:n", f"{key}:first", f"{key}:last"])
        pending = {name: found.get(f"{key}:{name}") for name in ("n", "first", "last")}
    count = int(pending.get("n") or 0)
    if count <= 0:
        return 0
    last = _parse(pending.get("last")) or timezone.now()
    first = min(_parse(pending.get("first")) or last, last)
    services.review_record_opens(request_id=request_id, count=count, first=first, last=last)
    # Take away exactly what was written; openings counted meanwhile stay for the next flush.
    if client is not None:
        if client.hincrby(key, "n", -count) <= 0:
            client.hdel(key, "first")
    else:
        try:
            left = cache.decr(f"{key}:n", count)
        except ValueError:  # the counter expired meanwhile: nothing is left to keep
            left = 0
        if left <= 0:
            cache.delete(f"{key}:first")
    return count


def _parse(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None
