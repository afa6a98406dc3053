"""The shared cache while Redis cannot be reached (nothing listens on the port): reads miss,
writes are dropped, a counter starts again; nothing raises into the page."""

from __future__ import annotations

import socket

import pytest

from crewcommand.lib.cache import ForgivingRedisCache


@pytest.fixture
def dead_redis():
    with socket.socket() as sock:  # a free port, closed again: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return ForgivingRedisCache(f"redis://127.0.0.1:{port}/0", {})


def test_an_unreachable_redis_is_a_miss_not_an_error(dead_redis, caplog):
    assert dead_redis.get("k", "default") == "default"
    dead_redis.set("k", "v")
    assert dead_redis.add("k", "v") is False
    with pytest.raises(ValueError):  # as for a missing key: callers start the count again
        dead_redis.incr("k")
    assert dead_redis.get_or_set("k", "computed") == "computed"
    assert dead_redis.get_many(["a", "b"]) == {}
    assert dead_redis.delete("k") is False
    assert "cache unreachable" in caplog.text


def test_the_portal_rate_limit_fails_open_while_redis_is_down(dead_redis, settings, monkeypatch):
    from portal import http

    monkeypatch.setattr(http, "cache", dead_redis)
    assert http.rate_hit("pay", "1", window=60) == 1
