"""Template variables that apps above the core provide to message templates (automations),
without the app that renders a template naming the app that knows the value.

An app registers a provider for a variable name from its ``AppConfig.ready()`` (booking gives
``{booking_link}``, reviews ``{review_link}``); the automations app asks ``provide(name,
subject)``. A provider returns the value, or raises ``Unavailable`` with a reason the message
records (the customer asked not to be asked for reviews, …): a message whose variable is
unavailable is not sent. With ``subject.preview`` a provider must write nothing (the editor's
preview) and may return a sample of the value's shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crewcommand.models import Company, Customer, Job


@dataclass(frozen=True)
class Subject:
    """What a message is about: the company, and when known its customer, job and document."""

    company: Company
    customer: Customer | None = None
    job: Job | None = None
    document: Any = None  # an estimate or invoice (documents, a layer up: not named here)
    preview: bool = False


class Unavailable(Exception):
    """The variable has no value for this subject; ``reason`` is safe to show."""

    def __init__(self, reason: Any) -> None:
        super().__init__(str(reason))
        self.reason = reason


Provider = Callable[[Subject], str]
PROVIDERS: dict[str, Provider] = {}


def register(name: str, provider: Provider) -> None:
    """Give ``{name}`` its provider. A name belongs to one app: registering another provider
    for it is a programming error."""
    if name in PROVIDERS and PROVIDERS[name] is not provider:
        raise ValueError(f"Template variable {name!r} is already registered.")
    PROVIDERS[name] = provider


def provide(name: str, subject: Subject) -> str:
    """The value of ``{name}`` for ``subject``; ``Unavailable`` when nobody provides it."""
    from django.utils.translation import gettext as _

    provider = PROVIDERS.get(name)
    if provider is None:
        raise Unavailable(_("Nothing provides {%(name)s} here.") % {"name": name})
    return provider(subject)
