"""Model field helpers shared by the apps."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def money_field(verbose_name: StrOrPromise = "", **kwargs: Any) -> models.DecimalField:
    """CAD to the cent, up to 999,999,999,999.99: the one shape every money column has."""
    return models.DecimalField(verbose_name, max_digits=14, decimal_places=2, **kwargs)
