"""``manage.py reconcile_payments``: ask Stripe about card payments still open after N minutes
and apply what it says (the same code path as webhooks). Beat runs it every five minutes."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from billing.reconcile import reconcile


class Command(BaseCommand):
    help = "Apply Stripe's state of card payments whose webhook has not arrived."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=settings.BILLING_RECONCILE_AFTER_MINUTES,
            help="Only attempts started more than this many minutes ago (default: %(default)s).",
        )

    def handle(self, *args, older_than: int, **options) -> None:
        report = reconcile(older_than_minutes=max(0, older_than))
        for name, value in report.as_dict().items():
            self.stdout.write(f"{name}: {value}")
