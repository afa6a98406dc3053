"""Errors every app's services raise (core layer: any app may import this, it imports nothing)."""

from __future__ import annotations


class ServiceError(Exception):
    """A rule was broken; the message is safe to show to the user."""
