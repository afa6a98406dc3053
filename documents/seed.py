"""Demo estimates and invoices for ``manage.py seed_demo``: several statuses and provinces.

Idempotent: a company that already has documents is left as it is.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from crewcommand.lib.activity import Actor
from crewcommand.models import Company, Customer, Job, Member
from documents import services
from documents.models import DepositKind, Estimate, EstimateStatus, Invoice, LineKind
from documents.totals import default_selection

TERMS = (
    "Prices include labour and materials listed. Work is guaranteed for one year. "
    "Payment is due on completion unless a deposit is requested."
)


def _line(description, quantity, price, **extra):
    return {
        "description": description,
        "quantity": Decimal(quantity),
        "unit_price": Decimal(price),
        "taxable": extra.pop("taxable", True),
        "kind": extra.pop("kind", LineKind.STANDARD),
        "group": extra.pop("group", ""),
        "selected_by_default": extra.pop("selected_by_default", True),
    }


def _estimate(company, customer, actor, lines, *, province=None, deposit=None, job=None):
    estimate = services.estimate_create(company=company, customer=customer, job=job, actor=actor)
    fields = {"terms": TERMS, "province": province or customer.province or company.province}
    if deposit:
        fields.update(deposit_kind=DepositKind.PERCENT, deposit_value=Decimal(deposit))
    services.estimate_update(estimate=estimate, actor=actor, fields=fields)
    for line in lines:
        services.line_save(doc=estimate, actor=actor, fields=line)
    return Estimate.objects.get(pk=estimate.pk)


def _invoice(company, customer, actor, lines, *, province=None, job=None):
    invoice = services.invoice_create(
        company=company,
        customer=customer,
        job=job,
        actor=actor,
        terms="net15",
        province=province or customer.province or company.province,
    )
    for line in lines:
        services.line_save(doc=invoice, actor=actor, fields=line)
    return Invoice.objects.get(pk=invoice.pk)


def seed_documents(*, company: Company, stdout) -> None:
    if Estimate.objects.filter(company=company).exists():
        return
    owner = Member.objects.filter(company=company).select_related("user").first()
    actor = Actor.member(owner.user)
    people = {c.name.split()[0]: c for c in Customer.objects.filter(company=company)}
    jobs = {j.customer_id: j for j in Job.objects.filter(company=company)}

    alice = people["Alice"]
    heater = _estimate(
        company,
        alice,
        actor,
        [
            _line("Remove and dispose of old water heater", "1", "180.00"),
            _line(
                "40 gal gas water heater (standard)",
                "1",
                "1150.00",
                kind=LineKind.CHOICE,
                group="Water heater",
            ),
            _line(
                "50 gal high-efficiency water heater",
                "1",
                "1690.00",
                kind=LineKind.CHOICE,
                group="Water heater",
                selected_by_default=False,
            ),
            _line(
                "Tankless on-demand water heater",
                "1",
                "3290.00",
                kind=LineKind.CHOICE,
                group="Water heater",
                selected_by_default=False,
            ),
            _line("Labour, licensed plumber (hours)", "3.5", "105.00"),
            _line("Expansion tank", "1", "145.00", kind=LineKind.OPTIONAL),
            _line(
                "5-year parts and labour warranty",
                "1",
                "249.00",
                kind=LineKind.OPTIONAL,
                selected_by_default=False,
            ),
        ],
        deposit="25",
        job=jobs.get(alice.pk),
    )
    services.estimate_send(estimate=heater, actor=actor)

    bob = people["Bob"]
    furnace = _estimate(
        company,
        bob,
        actor,
        [_line("Furnace tune-up", "1", "149.00"), _line("Replace filter (MERV 11)", "2", "34.50")],
        job=jobs.get(bob.pk),
    )
    services.estimate_send(estimate=furnace, actor=actor)
    revision = furnace.current_revision
    Estimate.objects.filter(pk=furnace.pk).update(
        status=EstimateStatus.ACCEPTED,
        accepted_revision=revision,
        accepted_selection=default_selection(revision.lines.all()).as_json(),
        decided_at=timezone.now(),
    )
    invoice = services.estimate_convert(estimate=Estimate.objects.get(pk=furnace.pk), actor=actor)
    services.invoice_send(invoice=invoice, actor=actor)

    chantal = people["Chantal"]
    faucet = _invoice(
        company,
        chantal,
        actor,
        [
            _line("Service call", "1", "89.00"),
            _line("Labour (hours)", "0.75", "55.50"),
            _line("Kitchen faucet, single handle", "1", "169.37"),
        ],
    )
    services.invoice_send(invoice=faucet, actor=actor)
    Invoice.objects.filter(pk=faucet.pk).update(
        issue_date=timezone.localdate() - dt.timedelta(days=40),
        due_date=timezone.localdate() - dt.timedelta(days=25),
    )

    dev = people["Dev"]
    _estimate(
        company,
        dev,
        actor,
        [
            _line("Drain camera inspection", "1", "249.00"),
            _line("Hydro-jet main line", "1", "395.00", kind=LineKind.OPTIONAL),
        ],
    )
    emma = people["Emma"]
    _invoice(
        company,
        emma,
        actor,
        [
            _line("Sump pump, 1/3 HP", "1", "389.00"),
            _line("Installation labour (hours)", "2", "95.00"),
        ],
    )
    stdout.write(
        f"documents: {Estimate.objects.filter(company=company).count()} estimates, "
        f"{Invoice.objects.filter(company=company).count()} invoices"
    )
