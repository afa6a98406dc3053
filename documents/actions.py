"""The actions a contractor takes from a document's page (``POST …/<action>/``, the view
``documents.views.document_action``): which service runs and what the page says after.

``documents`` registers the actions it owns (revise, duplicate, void); an app above it registers
the ones it owns from its ``AppConfig.ready()``: ``portal`` "send" (mark sent, make a link and
email it), ``billing`` "convert" (the invoice, with a paid deposit credited). The view finds
them here, so ``documents`` never imports the apps built on it. A service takes the document as
``estimate=`` or ``invoice=`` and ``actor=``.

An action may ask first (``confirm``): then ``GET …/<action>/`` shows what it will do (a page,
or its ``dialog`` partial for htmx) with a form, and the POST runs the service only when that
form is valid, passing the form's cleaned data as keyword arguments. Sending shows the email
the customer will get, with a note to add.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ACTIONS: dict[tuple[str, str], tuple[Callable[..., Any], Any]] = {}
CONFIRMATIONS: dict[tuple[str, str], Confirm] = {}


@dataclass(frozen=True)
class Confirm:
    """The step before an action. ``prepare(document, data)`` returns ``(form, context)``: the
    form bound to ``data`` (``None``: unbound) and what ``template`` needs to show the action's
    effect. ``template`` is a whole page with a ``dialog`` partial (the htmx answer)."""

    template: str
    prepare: Callable[[Any, Any], tuple[Any, dict[str, Any]]]


def register(
    kind: str,
    action: str,
    service: Callable[..., Any],
    done: Any,
    *,
    confirm: Confirm | None = None,
) -> None:
    """Add the action ``action`` on a ``kind`` ("estimate" or "invoice") document: ``service``
    runs it and ``done`` (a lazy translated string) is the success message; ``confirm``, if
    given, is shown (and its form required) first. An action belongs to one app: registering
    it again with another service is a programming error."""
    if kind not in ("estimate", "invoice"):
        raise ValueError(f"Unknown document kind {kind!r}.")
    known = ACTIONS.get((kind, action))
    if known is not None and known[0] is not service:
        raise ValueError(f"Document action {kind}/{action} is already registered.")
    ACTIONS[(kind, action)] = (service, done)
    if confirm is not None:
        CONFIRMATIONS[(kind, action)] = confirm
