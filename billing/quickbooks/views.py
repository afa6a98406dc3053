"""QuickBooks pages under /app/billing/quickbooks/ (namespace ``quickbooks``). Thin views: they
never call QuickBooks themselves except through a service (connect, callback, tax code list)."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing.quickbooks import selectors, services
from billing.quickbooks.forms import MatchForm, TaxMappingForm
from billing.quickbooks.models import SyncRecord, SyncStatus
from billing.quickbooks.taxes import effective_mapping
from crewcommand.access import ContractorRequest, member_required
from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from crewcommand.lib.listing import paginate

SESSION_STATE = "quickbooks_oauth_state"


@never_cache
@member_required(action="quickbooks.view")
@require_GET
def home(request: ContractorRequest) -> HttpResponse:
    company = request.company
    context = {
        "connection": selectors.connection_for(company=company),
        "setup_problem": services.setup_problem(),
        "counts": selectors.status_counts(company=company),
        "attention": selectors.needing_attention(company=company),
        "recent": selectors.log_entries(company=company)[:10],
    }
    return render(request, "billing/quickbooks/home.html", context)


@member_required(action="quickbooks.manage")
@require_POST
def connect(request: ContractorRequest) -> HttpResponse:
    """Send the owner to Intuit's consent page; the state's hash waits in the session."""
    try:
        url, state = services.connect_start()
    except ServiceError as error:
        messages.error(request, str(error))
        return redirect("quickbooks:overview")
    request.session[SESSION_STATE] = services.state_hash(state)
    return redirect(url)


@never_cache
@member_required(action="quickbooks.manage")
@require_GET
def callback(request: ContractorRequest) -> HttpResponse:
    expected = request.session.pop(SESSION_STATE, "")
    given = services.state_hash(request.GET.get("state", ""))
    if request.GET.get("error"):
        messages.warning(request, _("QuickBooks was not connected: the connection was declined."))
        return redirect("quickbooks:overview")
    try:
        services.connect_finish(
            company=request.company,
            actor=Actor.member(request.user),
            code=request.GET.get("code", ""),
            realm_id=request.GET.get("realmId", ""),
            state_ok=bool(expected) and secrets.compare_digest(expected, given),
        )
    except ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("QuickBooks is connected."))
    return redirect("quickbooks:overview")


@member_required(action="quickbooks.manage")
@require_POST
def disconnect(request: ContractorRequest) -> HttpResponse:
    services.disconnect(company=request.company, actor=Actor.member(request.user))
    messages.success(request, _("QuickBooks is disconnected. Nothing is sent to it any more."))
    return redirect("quickbooks:overview")


@never_cache
@member_required(action="quickbooks.manage")
@require_http_methods(["GET", "POST"])
def tax_codes(request: ContractorRequest) -> HttpResponse:
    connection = selectors.connection_for(company=request.company)
    codes = connection.tax_codes if connection else []
    current = effective_mapping(codes, selectors.tax_choices(company=request.company))
    form = TaxMappingForm(request.POST or None, codes=codes, initial_map=current)
    if request.method == "POST" and form.is_valid():
        services.tax_mapping_save(
            company=request.company, actor=Actor.member(request.user), mapping=form.cleaned_data
        )
        messages.success(request, _("Tax codes saved."))
        return redirect("quickbooks:tax_codes")
    return render(
        request, "billing/quickbooks/tax_codes.html", {"form": form, "connection": connection}
    )


@member_required(action="quickbooks.manage")
@require_POST
def tax_codes_refresh(request: ContractorRequest) -> HttpResponse:
    try:
        services.tax_codes_refresh(company=request.company)
    except ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Tax codes read from QuickBooks again."))
    return redirect("quickbooks:tax_codes")


@never_cache
@member_required(action="quickbooks.view")
@require_GET
def sync_log(request: ContractorRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in SyncStatus.values:
        status = ""
    page = paginate(request, selectors.records(company=request.company, status=status or None))
    context = {
        "page": page,
        "status": status,
        "statuses": SyncStatus.choices,
        "entries": selectors.log_entries(company=request.company)[:50],
    }
    return render(request, "billing/quickbooks/log.html", context)


def _record(request: ContractorRequest, record_id: str) -> SyncRecord:
    record = SyncRecord.objects.filter(company=request.company, public_id=record_id).first()
    if record is None:
        raise Http404
    return record


@member_required(action="quickbooks.resync")
@require_POST
def resync(request: ContractorRequest, record_id: str) -> HttpResponse:
    record = services.resync(record=_record(request, record_id))
    messages.success(
        request, _("%(label)s will be sent to QuickBooks again.") % {"label": record.label}
    )
    return redirect("quickbooks:log")


@never_cache
@member_required(action="quickbooks.resync")
@require_http_methods(["GET", "POST"])
def resolve(request: ContractorRequest, record_id: str) -> HttpResponse:
    record = _record(request, record_id)
    if not record.candidates:
        return redirect("quickbooks:log")
    form = MatchForm(request.POST or None, candidates=record.candidates)
    if request.method == "POST" and form.is_valid():
        try:
            services.match_resolve(
                record=record, actor=Actor.member(request.user), choice=form.cleaned_data["choice"]
            )
        except ServiceError as error:
            form.add_error("choice", str(error))
        else:
            messages.success(
                request, _("Thanks. %(label)s will be synced.") % {"label": record.label}
            )
            return redirect("quickbooks:overview")
    return render(request, "billing/quickbooks/resolve.html", {"record": record, "form": form})
