"""Pages that show several apps at once (the composition layer, top of the layer order): the
home page, the job list and job page, the customer page. Each reads through the apps' own
selectors; no app imports this package. URL names stay in the ``dashboard`` namespace
(``crewcommand/urls.py``)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from billing.quickbooks import selectors as quickbooks
from billing.selectors import job_payment_status
from booking.selectors import booking_url
from crewcommand import charts, selectors, services
from crewcommand.access import ContractorRequest, member_required
from crewcommand.forms import CompanyForm
from crewcommand.lib.listing import render_list
from crewcommand.models import Customer, JobStatus
from documents import selectors as documents
from documents.selectors import documents_for_job
from reviews import selectors as reviews


@member_required
@require_GET
def home(request: ContractorRequest) -> HttpResponse:
    company = request.company
    context = {
        "today_jobs": selectors.jobs_on_day(company=company, day=timezone.localdate()),
        "activity": selectors.activity_recent(company=company),
        "has_customers": selectors.has_customers(company=company),
        "funnel": charts.funnel_bars(documents.funnel(company=company)),
        "money": charts.stacked_weeks(documents.money_by_week(company=company)),
        "summary": documents.invoice_summary(company=company),
        **documents.attention(company=company),
    }
    context["main_key"] = _home_key(request, context)
    return render(request, "dashboard/home.html", context)


def _home_key(request: ContractorRequest, context: dict[str, Any]) -> list:
    """Every value the home's main block is made of, as plain data: the key its ``{% memo %}``
    keeps the rendered block under (the block reads nothing else; under tests each kept block
    is checked against a fresh render)."""
    return [
        request.user.first_name,
        request.user.email,
        context["summary"],
        context["awaiting_count"],
        context["funnel"],
        context["money"],
        context["has_customers"],
        [
            (e.public_id, e.number, e.customer.name, e.figures.total, e.status)
            for e in context["awaiting"]
        ],
        [
            (i.public_id, i.number, i.customer.name, i.balance, i.due_date)
            for i in context["overdue"]
        ],
        [
            (j.public_id, j.title, j.customer.name, j.scheduled_start, j.scheduled_end, j.status)
            for j in context["today_jobs"]
        ],
        [(a.created_at, a.verb, a.actor_label, a.data) for a in context["activity"]],
    ]


@member_required
@require_GET
def customer_detail(request: ContractorRequest, customer_id: str) -> HttpResponse:
    customer = selectors.customer_get(company=request.company, public_id=customer_id)
    return render(request, "dashboard/customer_detail.html", customer_context(request, customer))


def customer_context(request: ContractorRequest, customer: Customer) -> dict[str, Any]:
    from crewcommand.messaging.forms import MessageForm
    from crewcommand.messaging.selectors import customer_messages

    return {
        "customer": customer,
        "contacts": selectors.customer_contacts(customer=customer),
        "jobs": selectors.job_list(company=request.company).filter(customer=customer)[:50],
        "activity": selectors.activity_for_customer(customer=customer),
        "review_panel": reviews.panel(company=request.company, customer=customer),
        "qbo_record": quickbooks.record_for(
            company=request.company, kind="customer", local_id=customer.pk
        ),
        "customer_messages": customer_messages(customer=customer),
        "message_form": MessageForm(),
    }


@member_required
@require_GET
def job_list(request: ContractorRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    query = selectors.clean_query(request.GET.get("q"))
    jobs = job_payment_status(
        jobs=selectors.job_list(company=request.company, status=status, query=query)
    )
    context = {
        "q": query,
        "status": status if status in JobStatus.values else "",
        "filters": [("", _("All")), *JobStatus.choices],
    }
    return render_list(request, "dashboard/job_list.html", jobs, context)


@member_required
@require_GET
def job_detail(request: ContractorRequest, job_id: str) -> HttpResponse:
    job = selectors.job_get(company=request.company, public_id=job_id)
    context = {
        "job": job,
        "activity": selectors.activity_for(company=request.company, target=job),
        "statuses": JobStatus.choices,
        **documents_for_job(job=job),
        "review_panel": reviews.panel(company=request.company, customer=job.customer, job=job),
    }
    return render(request, "dashboard/job_detail.html", context)


@member_required(action="company.settings")
@require_http_methods(["GET", "POST"])
def company_settings(request: ContractorRequest) -> HttpResponse:
    company = request.company
    form = CompanyForm(request.POST or None, request.FILES or None, instance=company)
    if request.method == "POST" and form.is_valid():
        services.company_update(company=company, by=request.user, fields=form.cleaned_data)
        messages.success(request, _("Settings saved."))
        return redirect("dashboard:settings")
    context = {"form": form, "booking_url": booking_url(company)}
    return render(request, "crewcommand/settings.html", context)
