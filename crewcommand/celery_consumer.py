"""The worker's broker consumer, reconnecting every second while the broker is down.

Celery's consumer retries a lost broker connection after 2, 4, 6 … up to 30 s (kombu's
``ensure_connection`` defaults, not configurable), so after an outage of a minute or more a
worker could sit idle for up to 30 s with Redis back. Outbox messages committed during the
outage must go out within a minute of its end (README, "Messaging"), so the worker tries once a
second: one refused TCP connect a second while Redis is down. Installed with
``CELERY_WORKER_CONSUMER``; used by worker processes only.
"""

from __future__ import annotations

from typing import Any

from celery.worker.consumer import Consumer as CeleryConsumer

RECONNECT_SECONDS = 1.0


class Consumer(CeleryConsumer):  # type: ignore[misc]
    def ensure_connected(self, conn: Any) -> Any:
        ensure = conn.ensure_connection

        def every_second(*args: Any, **kwargs: Any) -> Any:
            kwargs.update(
                interval_start=RECONNECT_SECONDS, interval_step=0, interval_max=RECONNECT_SECONDS
            )
            return ensure(*args, **kwargs)

        conn.ensure_connection = every_second
        return super().ensure_connected(conn)
