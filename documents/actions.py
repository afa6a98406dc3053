"""The actions a contractor takes from a document's page (``POST …/<action>/``, the view
``documents.views.document_action``): which service runs and what the page says after.

``documents`` registers the actions it owns (revise, duplicate, void); an app above it registers
the ones it owns from its ``AppConfig.ready()``: ``portal`` "send" (mark sent, make a link and
email it), ``billing`` "convert" (the invoice, with a paid deposit credited). The view finds
them here, so ``documents`` never imports the apps built on it. A service takes the document as
``estimate=`` or ``invoice=`` and ``actor=``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ACTIONS: dict[tuple[str, str], tuple[Callable[..., Any], Any]] = {}


def register(kind: str, action: str, service: Callable[..., Any], done: Any) -> None:
    """Add the action ``action`` on a ``kind`` ("estimate" or "invoice") document: ``service``
    runs it and ``done`` (a lazy translated string) is the success message. An action belongs
    to one app: registering it again with another service is a programming error."""
    if kind not in ("estimate", "invoice"):
        raise ValueError(f"Unknown document kind {kind!r}.")
    known = ACTIONS.get((kind, action))
    if known is not None and known[0] is not service:
        raise ValueError(f"Document action {kind}/{action} is already registered.")
    ACTIONS[(kind, action)] = (service, done)
