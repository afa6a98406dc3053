"""Contractor pages for review requests: the dashboard (figures overall and per customer), the
throttle setting, and the panel on customer and job pages with its "Ask for a review" button.
Views are thin: access → form → one service → redirect with a message."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crewcommand import charts
from crewcommand import selectors as core_selectors
from crewcommand.access import ContractorRequest, member_required
from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from crewcommand.lib.listing import is_partial, render_list
from crewcommand.models import Customer, Job
from reviews import selectors, services
from reviews.forms import OptOutForm, ReviewSettingsForm
from reviews.models import ReviewSettings


@member_required
@require_GET
def review_list(request: ContractorRequest) -> HttpResponse:
    totals = selectors.totals(company=request.company)
    labels = {"sent": _("Sent"), "opened": _("Opened"), "clicked": _("Clicked through")}
    context = {
        "totals": totals,
        "funnel": charts.funnel_bars([(labels[k], n) for k, n, _w in totals.bars()]),
        "days": selectors.request_every_days(request.company),
    }
    customers = selectors.per_customer(company=request.company)
    return render_list(request, "reviews/review_list.html", customers, context)


@member_required(action="review.settings")
@require_http_methods(["GET", "POST"])
def review_settings(request: ContractorRequest) -> HttpResponse:
    current = ReviewSettings(
        company=request.company, request_every_days=selectors.request_every_days(request.company)
    )
    form = ReviewSettingsForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        services.review_settings_update(
            company=request.company,
            request_every_days=form.cleaned_data["request_every_days"],
            actor=Actor.member(request.user),
        )
        messages.success(request, _("Review settings saved."))
        return redirect("reviews_dashboard:review_list")
    return render(request, "reviews/settings.html", {"form": form})


def _panel(
    request: ContractorRequest, customer: Customer, job: Job | None, *, error: str = ""
) -> HttpResponse:
    """The panel (an htmx fragment), or the panel as a page: without JavaScript, and for a
    refused send or opt-out, which shows the reason in the panel like a form error (not as a
    message left for a later page)."""
    context = {
        **selectors.panel(company=request.company, customer=customer, job=job),
        "error": error,
    }
    template = "reviews/_panel.html" if is_partial(request) else "reviews/panel_page.html"
    return render(request, template, context)


@member_required
@require_GET
def customer_panel(request: ContractorRequest, customer_id: str) -> HttpResponse:
    customer = core_selectors.customer_get(company=request.company, public_id=customer_id)
    return _panel(request, customer, None)


@member_required
@require_GET
def job_panel(request: ContractorRequest, job_id: str) -> HttpResponse:
    job = core_selectors.job_get(company=request.company, public_id=job_id)
    return _panel(request, job.customer, job)


def _send(request: ContractorRequest, customer: Customer, job: Job | None) -> HttpResponse:
    try:
        services.review_request_send(customer=customer, job=job, actor=Actor.member(request.user))
    except ServiceError as error:
        return _panel(request, customer, job, error=str(error))
    messages.success(request, _("Review request sent to %(email)s.") % {"email": customer.email})
    return redirect(job or customer)


@member_required(action="review.send")
@require_POST
def customer_send(request: ContractorRequest, customer_id: str) -> HttpResponse:
    customer = core_selectors.customer_get(company=request.company, public_id=customer_id)
    return _send(request, customer, None)


@member_required(action="review.send")
@require_POST
def job_send(request: ContractorRequest, job_id: str) -> HttpResponse:
    job = core_selectors.job_get(company=request.company, public_id=job_id)
    return _send(request, job.customer, job)


@member_required(action="review.send")
@require_POST
def customer_opt_out(request: ContractorRequest, customer_id: str) -> HttpResponse:
    customer = core_selectors.customer_get(company=request.company, public_id=customer_id)
    form = OptOutForm(request.POST)
    if not form.is_valid():
        return _panel(request, customer, None, error=_("That didn't work. Please try again."))
    opted_out = form.cleaned_data["opted_out"]
    services.review_opt_out_set(
        customer=customer, opted_out=opted_out, actor=Actor.member(request.user)
    )
    if opted_out:
        messages.success(request, _("%(name)s won't be asked for reviews.") % {"name": customer})
    else:
        messages.success(
            request, _("%(name)s can be asked for reviews again.") % {"name": customer}
        )
    return redirect(customer)
