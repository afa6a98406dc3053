"""Load demo data: a company (slug ``demo``) with an owner login, customers and jobs.

Idempotent: running it again updates the same rows instead of adding more. Other apps extend it:
an app whose ``AppConfig`` names a ``demo_seed`` (the dotted path of a callable
``(company, stdout) -> None``) has it called after the core data, in ``INSTALLED_APPS`` order,
so each app's seed runs after those of the apps below it (portal links after documents).

The demo owner is an ordinary company owner, never staff: admin accounts come from
``createsuperuser``. The published demo password is for local development only, so with
``DEBUG`` off the command refuses unless given ``--allow-production``, and then gives the demo
owner a fresh random password instead of the published one.
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string

from crewcommand.models import Company, Customer, Job, JobStatus, Language, Member, Role

DEMO_EMAIL = "owner@demo.crewcommand.ca"
DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - a published demo login, local only

CUSTOMERS = [
    (
        "Alice Tremblay",
        "alice@example.com",
        "416 555 0101",
        "12 Maple Ave",
        "Toronto",
        "ON",
        "M4C 1A1",
    ),
    ("Bob Singh", "bob@example.com", "604 555 0102", "880 Cedar St", "Vancouver", "BC", "V6B 2K1"),
    (
        "Chantal Roy",
        "chantal@example.com",
        "514 555 0103",
        "45 rue Laurier",
        "Montréal",
        "QC",
        "H2T 1R2",
    ),
    (
        "Dev Patel",
        "dev@example.com",
        "905 555 0104",
        "7 Birch Cres",
        "Mississauga",
        "ON",
        "L5B 3C2",
    ),
    ("Emma Clarke", "", "403 555 0105", "301 Bow Trail SW", "Calgary", "AB", "T3C 2G4"),
]

# Demo customers served in French (portal, emails, documents); the others follow the company.
FRENCH_CUSTOMERS = {"Chantal Roy"}

JOBS = [
    ("Replace water heater", 0, JobStatus.SCHEDULED, 1, 9, 12),
    ("Furnace tune-up", 1, JobStatus.SCHEDULED, 0, 13, 15),
    ("Kitchen faucet leak", 2, JobStatus.REQUESTED, None, None, None),
    ("Basement drain camera inspection", 3, JobStatus.COMPLETED, -6, 10, 12),
    ("Sump pump install", 4, JobStatus.IN_PROGRESS, 0, 8, 11),
]


class Command(BaseCommand):
    help = "Create or refresh the demo company, its owner login, customers and jobs."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Load demo data even with DEBUG off (the demo owner gets a random password).",
        )

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError(
                "DEBUG is off: seed_demo adds a demo company and login to this database. "
                "Run it with --allow-production if that is really what you want."
            )
        password = DEMO_PASSWORD if settings.DEBUG else secrets.token_urlsafe(12)
        if not settings.DEBUG:
            self.stderr.write(
                self.style.WARNING(
                    "Warning: loading demo data with DEBUG off. The demo owner gets a random "
                    "password, printed below once."
                )
            )
        company, owner = self._company_and_owner(password)
        timezone.activate(company.timezone)
        customers = [self._customer(company, *row) for row in CUSTOMERS]
        member = Member.objects.get(user=owner)
        for row in JOBS:
            self._job(company, customers, member, *row)
        for config in apps.get_app_configs():
            if hook := getattr(config, "demo_seed", None):
                import_string(hook)(company=company, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"dashboard: {settings.SITE_URL}{reverse('dashboard:home')}")
        self.stdout.write(f"login: {DEMO_EMAIL} / {password}")
        self.stdout.write("admin: create a staff account with `manage.py createsuperuser`")

    def _company_and_owner(self, password: str):
        company, _created = Company.objects.update_or_create(
            slug="demo",
            defaults={
                "name": "Maple Leaf Plumbing & Heating",
                "province": "ON",
                "timezone": "America/Toronto",
                "email": "office@mapleleafplumbing.example",
                "phone": "416 555 0100",
                "address_line1": "100 King St W",
                "city": "Toronto",
                "postal_code": "M5X 1A9",
                "gst_number": "123456789 RT0001",
                "google_review_url": "https://g.page/r/demo-maple-leaf/review",
                "payment_instructions": "Interac e-Transfer to pay@mapleleafplumbing.example",
            },
        )
        User = get_user_model()
        owner, created = User.objects.get_or_create(
            username=DEMO_EMAIL,
            defaults={"email": DEMO_EMAIL, "first_name": "Morgan", "last_name": "Lee"},
        )
        if created or not owner.check_password(password):
            owner.set_password(password)
        # A company owner, not staff: the admin sees every company's data. This also demotes
        # a demo owner that an older version of this command made a superuser.
        owner.is_staff = owner.is_superuser = False
        owner.save()
        Member.objects.update_or_create(
            user=owner, defaults={"company": company, "role": Role.OWNER}
        )
        return company, owner

    def _customer(self, company, name, email, phone, line1, city, province, postal):
        customer, _created = Customer.objects.update_or_create(
            company=company,
            name=name,
            defaults={
                "email": email,
                "phone": phone,
                "address_line1": line1,
                "city": city,
                "province": province,
                "postal_code": postal,
                "language": Language.FRENCH if name in FRENCH_CUSTOMERS else "",
            },
        )
        return customer

    def _job(self, company, customers, member, title, customer_index, status, day, start, end):
        customer = customers[customer_index]
        scheduled_start = scheduled_end = None
        if day is not None:
            date = timezone.localdate() + dt.timedelta(days=day)
            tz = timezone.get_current_timezone()
            scheduled_start = dt.datetime.combine(date, dt.time(start), tzinfo=tz)
            scheduled_end = dt.datetime.combine(date, dt.time(end), tzinfo=tz)
        job, _created = Job.objects.update_or_create(
            company=company,
            title=title,
            defaults={
                "customer": customer,
                "status": status,
                "address": customer.address,
                "scheduled_start": scheduled_start,
                "scheduled_end": scheduled_end,
            },
        )
        job.assigned.set([member])
        return job
