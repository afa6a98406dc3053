from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from billing import services as billing
from billing.models import Payment, PaymentMethod
from crewcommand.lib.activity import Actor
from crewcommand.models import Company, Customer, Job, Member, Role
from documents import services as documents
from documents.models import DepositKind, Estimate, EstimateRevision, Invoice, LineItem
from documents.totals import Selection
from portal import services as portal
from portal.forms import CONSENT_TEXT
from portal.models import PortalLink
from portal.signatures import typed_svg


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    username = factory.SelfAttribute("email")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("correct-horse-battery")


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Company {n} Plumbing")
    slug = factory.Sequence(lambda n: f"company-{n}")
    province = "ON"
    timezone = "America/Toronto"
    email = factory.Sequence(lambda n: f"office{n}@example.com")


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    user = factory.SubFactory(UserFactory)
    company = factory.SubFactory(CompanyFactory)
    role = Role.OWNER


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    company = factory.SubFactory(CompanyFactory)
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    phone = "416 555 0199"
    address_line1 = "12 Maple Ave"
    city = "Toronto"
    province = "ON"
    postal_code = "M4C 1A1"


class JobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Job

    company = factory.SelfAttribute("customer.company")
    customer = factory.SubFactory(CustomerFactory)
    title = factory.Sequence(lambda n: f"Job {n}")


# --- Documents and payments --------------------------------------------------------------------
# Built through the app's own services (documents, portal, billing), never by setting columns: the
# totals, numbers, revisions and statuses are the ones the app computes. A line is a dict of
# LineItem fields; prices and quantities may be strings.

ESTIMATE_LINES = (
    {"description": "Remove and dispose of the old water heater", "unit_price": "180.00"},
    {"description": "Installation labour", "quantity": "4", "unit_price": "95.00"},
    {
        "description": "50-gallon tank",
        "unit_price": "1450.00",
        "kind": "choice",
        "group": "Water heater",
        "selected_by_default": True,
    },
    {
        "description": "Tankless heater",
        "unit_price": "2890.00",
        "kind": "choice",
        "group": "Water heater",
        "selected_by_default": False,
    },
    {
        "description": "Expansion tank",
        "unit_price": "165.00",
        "kind": "optional",
        "selected_by_default": True,
    },
    {
        "description": "Water softener",
        "unit_price": "1195.00",
        "kind": "optional",
        "selected_by_default": False,
    },
)
ESTIMATE_TERMS = "Work starts within 10 business days. Workmanship guaranteed for 2 years."
ESTIMATE_NOTES = "Parking in the driveway, please."
# One taxable line: $1,200.00 + 13 % HST = $1,356.00 in Ontario.
INVOICE_LINES = ({"description": "Water heater", "unit_price": "1200.00"},)
# 149.00 + 2 x 34.50 = 218.00; + 13 % HST = $246.34 in Ontario.
FURNACE_LINES = (
    {"description": "Furnace tune-up", "unit_price": "149.00"},
    {"description": "Air filter", "quantity": "2", "unit_price": "34.50"},
)


# A line with every field the line editor posts (form data, or ``line_save`` fields).
LINE = {
    "description": "Labour",
    "quantity": Decimal("2"),
    "unit_price": Decimal("95.00"),
    "taxable": True,
    "kind": "standard",
    "group": "",
    "selected_by_default": True,
}


def line_fields(spec: dict[str, Any]) -> dict[str, Any]:
    """A line spec as ``documents.services.line_save`` takes it (money and quantity Decimal)."""
    fields = {"quantity": "1", **spec}
    for name in ("quantity", "unit_price"):
        fields[name] = Decimal(str(fields[name]))
    return fields


def _add_lines(doc: Estimate | Invoice, actor: Actor, lines: Iterable[dict[str, Any]]) -> None:
    for spec in lines:
        documents.line_save(doc=doc, actor=actor, fields=line_fields(spec))


class LineItemFactory(factory.django.DjangoModelFactory):
    """A line added to ``doc`` (an estimate's editable revision, or a draft invoice) by
    ``documents.services.line_save``, which refreshes the document's totals."""

    class Meta:
        model = LineItem

    doc = None
    actor = factory.LazyFunction(Actor.system)
    description = LINE["description"]
    quantity = LINE["quantity"]
    unit_price = LINE["unit_price"]
    taxable = LINE["taxable"]
    kind = LINE["kind"]
    group = LINE["group"]
    selected_by_default = LINE["selected_by_default"]

    @classmethod
    def _create(cls, model_class, *, doc, actor, **fields):
        return documents.line_save(doc=doc, actor=actor, fields=line_fields(fields))


def _in_days(days: int):
    return factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=days))


class _DocumentFactory(factory.django.DjangoModelFactory):
    """What estimates and invoices share: the customer (and so the company), a job or none,
    who acts, and whether the document is sent."""

    class Meta:
        abstract = True

    customer = factory.SubFactory(CustomerFactory)
    company = factory.SelfAttribute("customer.company")
    job = None
    actor = factory.LazyFunction(Actor.system)
    sent = True


class EstimateFactory(_DocumentFactory):
    """An estimate made (``estimate_create``), its revision's fields set (``estimate_update``,
    skipped for ``revision={}``), its lines added (``line_save``) and sent (``estimate_send``;
    ``sent=False`` leaves a draft), all through the documents services. ``signed=True``: then
    accepted with its default options through the portal's signing service."""

    class Meta:
        model = Estimate

    revision = factory.Dict(
        {
            "terms": ESTIMATE_TERMS,
            "notes": ESTIMATE_NOTES,
            "deposit_kind": DepositKind.PERCENT,
            "deposit_value": Decimal("25.00"),
            "valid_until": _in_days(30),
        }
    )
    lines = ESTIMATE_LINES
    signed = False

    @classmethod
    def _create(cls, model_class, *, company, customer, job, actor, revision, lines, sent, signed):
        estimate = documents.estimate_create(
            company=company, customer=customer, job=job, actor=actor
        )
        if revision:
            if "deposit_value" in revision:
                revision["deposit_value"] = Decimal(str(revision["deposit_value"]))
            documents.estimate_update(estimate=estimate, actor=actor, fields=revision)
        _add_lines(estimate, actor, lines)
        if sent or signed:
            documents.estimate_send(estimate=estimate, actor=actor)
        if signed:
            estimate = Estimate.objects.select_related("current_revision").get(pk=estimate.pk)
            issued = portal.link_create(customer=customer, actor=actor, document=estimate)
            sign(estimate, issued.link)
        return Estimate.objects.select_related(
            "current_revision", "accepted_revision", "company"
        ).get(pk=estimate.pk)


class SignedEstimateFactory(EstimateFactory):
    signed = True


class EstimateRevisionFactory(factory.django.DjangoModelFactory):
    """A new revision of a sent ``estimate`` (``estimate_revise``), changed by ``fields``."""

    class Meta:
        model = EstimateRevision

    estimate = factory.SubFactory(EstimateFactory)
    actor = factory.LazyFunction(Actor.system)
    fields = factory.Dict({})

    @classmethod
    def _create(cls, model_class, *, estimate, actor, fields):
        documents.estimate_revise(estimate=estimate, actor=actor)
        if fields:
            documents.estimate_update(estimate=estimate, actor=actor, fields=fields)
        estimate.refresh_from_db()
        return estimate.current_revision


class InvoiceFactory(_DocumentFactory):
    """An invoice made, filled and sent (``sent=False``: left a draft) through the documents
    services; other invoice fields (terms, notes, ...) are set by ``invoice_update``."""

    class Meta:
        model = Invoice

    lines = INVOICE_LINES

    @classmethod
    def _create(cls, model_class, *, company, customer, job, actor, lines, sent, **fields):
        invoice = documents.invoice_create(company=company, customer=customer, actor=actor, job=job)
        if fields:
            documents.invoice_update(invoice=invoice, actor=actor, fields=fields)
        _add_lines(invoice, actor, lines)
        if sent:
            documents.invoice_send(invoice=invoice, actor=actor)
        return Invoice.objects.get(pk=invoice.pk)


class PaymentFactory(factory.django.DjangoModelFactory):
    """Money the contractor received, recorded by ``billing.services.payment_record`` against
    ``invoice`` (or an accepted ``estimate``'s deposit)."""

    class Meta:
        model = Payment

    invoice = None
    estimate = None
    actor = factory.LazyFunction(Actor.system)
    amount = Decimal("100.00")
    method = PaymentMethod.CASH
    received_on = factory.LazyFunction(timezone.localdate)

    @classmethod
    def _create(cls, model_class, *, amount, **fields):
        return billing.payment_record(amount=Decimal(str(amount)), **fields)


def sign(estimate: Estimate, link: PortalLink, name: str | None = None):
    """The customer signs the estimate's current revision with its default options (a typed
    signature), through the portal's own signing service."""
    name = estimate.customer.name if name is None else name
    return portal.estimate_accept(
        estimate=estimate,
        link=link,
        revision_number=estimate.current_revision.number,
        selection=Selection(),
        signature=portal.SignatureIn(
            signer_name=name,
            method="typed",
            image_svg=typed_svg(name),
            consent_text=str(CONSENT_TEXT),
        ),
        ip="203.0.113.9",
        user_agent="pytest",
    )


def sent_invoices_in_bulk(customer: Customer, count: int) -> None:
    """``count`` sent invoices numbered 1 to ``count`` (total $n.00, due today) for a long
    list, in one INSERT: no lines, no taxes, no activity."""
    from crewcommand.lib.ids import new_public_id
    from documents.models import InvoiceStatus

    today = timezone.localdate()
    Invoice.objects.bulk_create(
        Invoice(
            company=customer.company,
            customer=customer,
            number=n,
            province="ON",
            status=InvoiceStatus.SENT,
            issue_date=today,
            due_date=today,
            total=Decimal(n),
            public_id=new_public_id(),
        )
        for n in range(1, count + 1)
    )
