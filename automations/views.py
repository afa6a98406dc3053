"""Contractor pages for automations: the list with on/off switches, the editor with its live
preview (htmx; a Preview button without JavaScript) and last runs. Everyone sees them; owners
change them (``automation.edit``)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from automations import selectors, services, templating
from automations.forms import AutomationForm, ToggleForm
from automations.models import Automation, Channel
from crewcommand.access import ContractorRequest, member_required
from crewcommand.lib.listing import is_partial
from crewcommand.permissions import member_can


@member_required
@require_GET
def automation_list(request: ContractorRequest) -> HttpResponse:
    automations = selectors.automation_list(company=request.company)
    return render(request, "automations/list.html", {"automations": automations})


LANGUAGES = (("en", _l("English")), ("fr", _l("French")))


def _preview_context(request: ContractorRequest, automation: Automation) -> dict[str, Any]:
    """The preview of ``automation`` (maybe unsaved) for the chosen or latest customer: one
    per language (each with its SMS segment count), and which one that customer gets."""
    customer = selectors.preview_customer(
        company=request.company,
        public_id=request.POST.get("preview_customer") or request.GET.get("customer"),
    )
    if customer is None:
        return {"previews": None, "preview_customer": None}
    subject = services.preview_subject(
        company=request.company, customer=customer, trigger=automation.trigger
    )
    gets = automation.texts(services.message_language(automation, subject))
    previews, missing = [], {}
    for code, label in LANGUAGES:
        body = automation.body_fr if code == "fr" else automation.body
        if not body:
            previews.append({"code": code, "label": label, "items": [], "empty": True})
            continue
        rendered, unavailable = services.preview(automation, subject, language=code)
        for item in rendered:
            item.segments = (  # type: ignore[attr-defined]
                templating.sms_segments(item.body) if item.channel == Channel.SMS else None
            )
        missing.update(unavailable)
        previews.append({"code": code, "label": label, "items": rendered, "empty": False})
    return {
        "previews": previews,
        "missing": missing,
        "preview_customer": customer,
        "customer_gets": gets.language,
        "customer_fallback": gets.fallback,
    }


def _editor(
    request: ContractorRequest,
    form: AutomationForm,
    automation: Automation | None,
    *,
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {
        "form": form,
        "automation": automation,
        "customers": selectors.preview_customers(company=request.company),
        "runs": selectors.recent_runs(automation=automation) if automation else [],
        "can_edit": member_can(request.member, "automation.edit"),
        "variables": templating.VARIABLES,
        "missing_languages": form.missing_languages,
    }
    shown = form.instance if form.is_bound is False else _draft(form, automation)
    if shown is not None:
        context.update(_preview_context(request, shown))
    return render(request, "automations/edit.html", context, status=status)


def _draft(form: AutomationForm, automation: Automation | None) -> Automation | None:
    """The automation as the form has it, for the preview (never saved); None if unusable."""
    if form.is_valid():
        return form.save(commit=False)
    return None


@member_required
@require_GET
def automation_detail(request: ContractorRequest, automation_id: str) -> HttpResponse:
    automation = selectors.automation_get(company=request.company, public_id=automation_id)
    return _editor(request, AutomationForm(instance=automation), automation)


@member_required(action="automation.edit")
@require_http_methods(["GET", "POST"])
def automation_new(request: ContractorRequest) -> HttpResponse:
    draft = Automation(company=request.company, channel=Channel.SMS)
    form = AutomationForm(request.POST or None, instance=draft)
    if request.method == "POST" and form.is_valid():
        services.automation_save(company=request.company, by=request.user, fields=form.cleaned_data)
        messages.success(request, _("Automation saved."))
        return redirect("automations:list")
    return _editor(
        request,
        form,
        None,
    )


@member_required(action="automation.edit")
@require_POST
def automation_save(request: ContractorRequest, automation_id: str) -> HttpResponse:
    automation = selectors.automation_get(company=request.company, public_id=automation_id)
    form = AutomationForm(request.POST, instance=automation)
    if not form.is_valid():
        return _editor(request, form, automation)
    services.automation_save(
        company=request.company, by=request.user, fields=form.cleaned_data, automation=automation
    )
    messages.success(request, _("Automation saved."))
    return redirect("automations:list")


@member_required(action="automation.edit")
@require_POST
def automation_preview(request: ContractorRequest) -> HttpResponse:
    """The preview of the editor's current text (htmx fragment); writes nothing."""
    form = AutomationForm(request.POST, instance=Automation(company=request.company))
    context: dict[str, Any] = {
        "form": form,
        "previews": None,
        "preview_customer": None,
        "missing_languages": form.missing_languages,
    }
    if form.is_valid():
        context.update(_preview_context(request, form.save(commit=False)))
    template = "automations/edit.html#preview" if is_partial(request) else "automations/edit.html"
    if not is_partial(request):
        context.update(
            {
                "customers": selectors.preview_customers(company=request.company),
                "can_edit": True,
                "variables": templating.VARIABLES,
            }
        )
    return render(request, template, context)


@member_required(action="automation.edit")
@require_POST
def automation_toggle(request: ContractorRequest, automation_id: str) -> HttpResponse:
    automation = selectors.automation_get(company=request.company, public_id=automation_id)
    form = ToggleForm(request.POST)
    if not form.is_valid():
        # Shown on the page itself (not left as a message for a later one).
        automations = selectors.automation_list(company=request.company)
        context = {"automations": automations, "error": _("That didn't work. Please try again.")}
        return render(request, "automations/list.html", context)
    enabled = form.cleaned_data["enabled"]
    services.automation_set_enabled(automation=automation, enabled=enabled, by=request.user)
    messages.success(
        request,
        (_("“%(name)s” is on.") if enabled else _("“%(name)s” is off."))
        % {"name": automation.name},
    )
    return redirect("automations:list")
