"""The activity log: one helper every service calls to record who did what to which object
(``record``; ``record_about`` for a customer's things).

Rows store a verb and data, not a sentence, so a timeline renders in the reader's language.
Each verb's sentence lives in ``SENTENCES``; every app (the core included) registers its own
verbs from its ``AppConfig.ready()`` with ``register`` (the sentences sit in the app's
``apps.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import Model

    from crewcommand.models import Activity, Company, Customer

logger = logging.getLogger(__name__)

SENTENCES: dict[str, Any] = {}
# Callbacks of apps above the core that act on some verbs (automations' triggers), by verb.
SUBSCRIBERS: dict[str, list[Callable[[Activity], None]]] = {}


def register(sentences: Mapping[str, Any]) -> None:
    """Add an app's verbs and their sentences; each app calls this from its
    ``AppConfig.ready()``. A verb belongs to one app: registering it twice with another
    sentence is a programming error."""
    for verb, sentence in sentences.items():
        if verb in SENTENCES and SENTENCES[verb] is not sentence:
            raise ValueError(f"Activity verb {verb!r} is already registered.")
        SENTENCES[verb] = sentence


def subscribe(verbs: Iterable[str], callback: Callable[[Activity], None]) -> None:
    """Call ``callback(activity)`` each time a row with one of ``verbs`` is recorded, from an
    app's ``AppConfig.ready()`` (automations' triggers). It runs inside the recording service's
    transaction, in a savepoint, so what it writes (an outbox message) commits or rolls back
    with the change that caused it; if it fails, its writes are undone and logged and the
    service goes on: a trigger never breaks the change it follows."""
    for verb in verbs:
        callbacks = SUBSCRIBERS.setdefault(verb, [])
        if callback not in callbacks:
            callbacks.append(callback)


def _notify_subscribers(row: Activity) -> None:
    for callback in SUBSCRIBERS.get(row.verb, ()):
        try:
            with transaction.atomic():
                callback(row)
        except Exception:
            logger.exception("Activity subscriber failed for verb %s (row %s)", row.verb, row.pk)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted: a team member (a user), a customer through a link, or the system."""

    kind: str
    user: User | None = None
    label: str = ""

    @classmethod
    def member(cls, user: User) -> Actor:
        label = user.get_full_name() or getattr(user, "email", "") or user.get_username()
        return cls(kind="member", user=user, label=label)

    @classmethod
    def customer(cls, name: str) -> Actor:
        return cls(kind="customer", label=name)

    @classmethod
    def system(cls) -> Actor:
        return cls(kind="system", label=str(_("CrewCommand")))


def record(
    *,
    company: Company,
    verb: str,
    actor: Actor,
    target: Model | None = None,
    customer: Customer | None = None,
    data: dict[str, Any] | None = None,
) -> Activity:
    """Write one activity row. Call it inside the service's transaction so the row exists
    exactly when the change does."""
    from crewcommand.models import Activity

    if verb not in SENTENCES:
        raise ValueError(
            f"Unknown activity verb {verb!r}: register it in its app's AppConfig.ready()."
        )
    row = Activity.objects.create(
        company=company,
        verb=verb,
        actor_kind=actor.kind,
        actor_user=actor.user if actor.user is not None and actor.user.pk else None,
        actor_label=actor.label[:200],
        target_type=ContentType.objects.get_for_model(target) if target is not None else None,
        target_id=target.pk if target is not None else None,
        customer=customer,
        data=data or {},
    )
    _notify_subscribers(row)
    return row


def record_about(
    target: Model,
    verb: str,
    actor: Actor,
    *,
    company: Company | None = None,
    customer: Customer | None = None,
    data: dict[str, Any] | None = None,
    fold: bool = False,
) -> None:
    """Record a row about one of a customer's things (the customer, a job, an estimate, an
    invoice): the one helper every app's services call for those. The row's company and customer
    are the target's own (a customer is its own) unless given, and a numbered document (one with
    a ``display_number``) is named by its number in the data. With ``fold``, a burst of the same
    change by one actor stays one row (``recently_recorded``)."""
    if fold and recently_recorded(target=target, verb=verb, actor=actor):
        return
    number = getattr(target, "display_number", None)
    record(
        company=company if company is not None else target.company,  # type: ignore[attr-defined]
        verb=verb,
        actor=actor,
        target=target,
        customer=customer if customer is not None else _customer_of(target),
        data={"number": number, **(data or {})} if number is not None else data,
    )


def _customer_of(target: Model) -> Customer:
    from crewcommand.models import Customer

    return target if isinstance(target, Customer) else target.customer  # type: ignore[attr-defined]


def recently_recorded(*, target: Model, verb: str, actor: Actor, minutes: int = 15) -> bool:
    """Whether the latest row about ``target`` is the same verb by the same actor within
    ``minutes``: used to fold a burst of small edits into one timeline entry."""
    import datetime as dt

    from django.utils import timezone

    from crewcommand.models import Activity

    latest = (
        Activity.objects.filter(
            target_type=ContentType.objects.get_for_model(target), target_id=target.pk
        )
        .only("verb", "actor_user_id", "actor_kind", "created_at")
        .first()
    )
    return (
        latest is not None
        and latest.verb == verb
        and latest.actor_kind == actor.kind
        and latest.actor_user_id == (actor.user.pk if actor.user is not None else None)
        and latest.created_at >= timezone.now() - dt.timedelta(minutes=minutes)
    )


def describe(activity: Activity) -> str:
    sentence = SENTENCES.get(activity.verb, activity.verb)
    values = {"actor": activity.actor_label or _("Someone"), **activity.data}
    try:
        return str(sentence) % values
    except (KeyError, TypeError, ValueError):
        return str(sentence)
