"""Core pages: landing, signup, invitations, customers and jobs (lists, forms, status), settings,
team, health. Pages that show other apps too (home, job list and page, customer page) are in
``crewcommand.dashboard``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, trigger_client_event

from crewcommand import ratelimits, selectors, services
from crewcommand.access import ContractorRequest, member_required
from crewcommand.errors import ServiceError
from crewcommand.forms import (
    AcceptInvitationForm,
    ContactForm,
    CustomerForm,
    InviteForm,
    JobForm,
    SignupForm,
    SignupPasswordForm,
)
from crewcommand.lib.activity import Actor
from crewcommand.lib.listing import render_list
from crewcommand.models import JobStatus
from crewcommand.notifications import send_invitation, send_signup


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard:home")
    return render(request, "crewcommand/landing.html")


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 page (``handler500``), or, when the database cannot be reached (restarting,
    failing over, out of connections), a 503 "back in a moment" with ``Retry-After``: the
    request changed nothing and is worth repeating. Touches no database and renders no
    traceback."""
    import sys

    from django.db import InterfaceError, OperationalError

    if isinstance(sys.exc_info()[1], (OperationalError, InterfaceError)):
        response = render(request, "503.html", status=503)
        response["Retry-After"] = "10"
        return response
    return render(request, "500.html", status=500)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 403 page (``handler403``). An htmx request (a panel's button, a form posted in
    place) does not swap an error page into the panel, so the same words arrive as an error
    toast instead of the generic "Something went wrong"."""
    response = render(request, "403.html", status=403)
    if getattr(request, "htmx", False):
        member = getattr(request, "member", None)
        if member is not None:
            message = _("Your role (%(role)s) can't do this. Nothing was changed.") % {
                "role": member.get_role_display()
            }
        else:
            message = _("You don't have access to this page.")
        trigger_client_event(response, "showToast", {"level": "error", "message": message})
        reswap(response, "none")
    return response


class PasswordResetConfirm(auth_views.PasswordResetConfirmView):
    """Django's "choose a new password" page. A reset that succeeds also lifts the account's
    login lockout (``crewcommand.ratelimits``): the owner proved they hold the mailbox, and
    being locked out is usually why they reset in the first place."""

    def form_valid(self, form):
        response = super().form_valid(form)
        ratelimits.login_lockout_clear(form.user)
        return response


@require_http_methods(["GET", "POST"])
@ratelimits.post_guard("signup_ip", door="signup")
def signup(request: HttpRequest) -> HttpResponse:
    """Step one: every valid form gets the same answer ("check your email"), whether or not the
    address has an account; the mail says which (crewcommand.notifications.deliver_signup)."""
    if request.user.is_authenticated and hasattr(request.user, "membership"):
        return redirect("dashboard:home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if ratelimits.mail_allowed(request, "signup_address", form.cleaned_data["email"]):
            send_signup(**form.cleaned_data)
        return redirect("signup_sent")
    return render(request, "crewcommand/signup.html", {"form": form})


@require_GET
def signup_sent(request: HttpRequest) -> HttpResponse:
    context = {"hours": settings.SIGNUP_LINK_MAX_AGE_HOURS}
    return render(request, "crewcommand/signup_sent.html", context)


@never_cache
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def signup_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """Step two, behind the emailed link: choose a password; the company is created then."""
    data = services.signup_from_token(token, max_age_hours=settings.SIGNUP_LINK_MAX_AGE_HOURS)
    if data is None:
        return render(request, "crewcommand/signup_invalid.html", status=404)
    if services.email_registered(data["email"]):
        # Used already (or the address got an account since): only the mailbox's owner has
        # this link, so saying so reveals nothing to anyone else.
        return render(request, "crewcommand/signup_invalid.html", {"registered": True})
    form = SignupPasswordForm(request.POST or None, email=data["email"])
    if request.method == "POST" and form.is_valid():
        try:
            member = services.company_signup(**data, password=form.cleaned_data["password"])
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            login(request, member.user, backend="crewcommand.backends.EmailBackend")
            messages.success(request, _("Welcome to CrewCommand! Add your first customer."))
            return redirect("dashboard:home")
    return render(request, "crewcommand/signup_confirm.html", {"form": form, "signup": data})


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = services.invitation_from_token(
        token, max_age_days=settings.INVITATION_MAX_AGE_DAYS
    )
    if invitation is None:
        return render(request, "crewcommand/invitation_invalid.html", status=404)
    user = request.user if request.user.is_authenticated else None
    if user is not None and not services.invitation_is_for(invitation, user):
        # Someone else's link: refuse before any form, and change nothing.
        context = {"invitation": invitation, "wrong_user": True}
        return render(request, "crewcommand/invitation_accept.html", context, status=403)
    form = (
        AcceptInvitationForm(request.POST or None, email=invitation.email) if user is None else None
    )
    if request.method == "POST" and (form is None or form.is_valid()):
        data = form.cleaned_data if form is not None else {"full_name": "", "password": None}
        try:
            member = services.invitation_accept(invitation=invitation, user=user, **data)
        except ServiceError as error:
            messages.error(request, str(error))
        else:
            if user is None:
                login(request, member.user, backend="crewcommand.backends.EmailBackend")
            messages.success(request, _("You joined %(company)s.") % {"company": member.company})
            return redirect("dashboard:home")
    context = {"invitation": invitation, "form": form}
    return render(request, "crewcommand/invitation_accept.html", context)


@member_required
@require_GET
def customer_list(request: ContractorRequest) -> HttpResponse:
    query = selectors.clean_query(request.GET.get("q"))
    customers = selectors.customer_list(company=request.company, query=query)
    return render_list(request, "crewcommand/customer_list.html", customers, {"q": query})


@member_required(action="customer.edit")
@require_http_methods(["GET", "POST"])
def customer_create(request: ContractorRequest) -> HttpResponse:
    form = CustomerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        customer = services.customer_create(
            company=request.company, actor=Actor.member(request.user), **form.cleaned_data
        )
        messages.success(request, _("Customer %(name)s added.") % {"name": customer.name})
        return redirect(customer)
    return render(request, "crewcommand/customer_form.html", {"form": form})


@member_required(action="customer.edit")
@require_http_methods(["GET", "POST"])
def customer_edit(request: ContractorRequest, customer_id: str) -> HttpResponse:
    customer = selectors.customer_get(company=request.company, public_id=customer_id)
    form = CustomerForm(request.POST or None, instance=customer)
    if request.method == "POST" and form.is_valid():
        services.customer_update(
            customer=customer, actor=Actor.member(request.user), fields=form.cleaned_data
        )
        messages.success(request, _("Customer saved."))
        return redirect(customer)
    return render(request, "crewcommand/customer_form.html", {"form": form, "customer": customer})


# --- Contacts (the customer page's contacts panel) ---------------------------------------------


def _contacts_panel(
    request: ContractorRequest,
    customer,
    *,
    form: ContactForm | None = None,
    editing=None,
    notice: str = "",
    error: str = "",
) -> HttpResponse:
    """The panel (htmx) or, without JavaScript, the contact form page when a form is open;
    after a change without JavaScript, back to the customer page with a message."""
    context = {
        "customer": customer,
        "contacts": selectors.customer_contacts(customer=customer),
        "contact_form": form,
        "editing": editing,
        "notice": notice,
        "error": error,
    }
    if request.htmx:
        return render(request, "crewcommand/_contacts_panel.html", context)
    if form is not None:
        return render(request, "crewcommand/contact_form.html", context)
    if notice:
        messages.success(request, notice)
    if error:
        messages.error(request, error)
    return redirect(customer)


@member_required(action="customer.edit")
@require_http_methods(["GET", "POST"])
def contact_create(request: ContractorRequest, customer_id: str) -> HttpResponse:
    customer = selectors.customer_get(company=request.company, public_id=customer_id)
    form = ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.contact_save(
                customer=customer, actor=Actor.member(request.user), fields=form.cleaned_data
            )
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            notice = _("Contact %(name)s added.") % {"name": contact.name}
            return _contacts_panel(request, customer, notice=notice)
    return _contacts_panel(request, customer, form=form)


@member_required(action="customer.edit")
@require_http_methods(["GET", "POST"])
def contact_edit(request: ContractorRequest, customer_id: str, contact_id: str) -> HttpResponse:
    customer = selectors.customer_get(company=request.company, public_id=customer_id)
    contact = selectors.contact_get(customer=customer, public_id=contact_id)
    form = ContactForm(request.POST or None, instance=contact)
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_save(
                customer=customer,
                actor=Actor.member(request.user),
                fields=form.cleaned_data,
                contact=contact,
            )
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            notice = _("Contact %(name)s saved.") % {"name": contact.name}
            return _contacts_panel(request, customer, notice=notice)
    return _contacts_panel(request, customer, form=form, editing=contact)


@member_required(action="customer.edit")
@require_POST
def contact_remove(request: ContractorRequest, customer_id: str, contact_id: str) -> HttpResponse:
    customer = selectors.customer_get(company=request.company, public_id=customer_id)
    contact = selectors.contact_get(customer=customer, public_id=contact_id)
    try:
        services.contact_remove(contact=contact, actor=Actor.member(request.user))
    except ServiceError as error:
        return _contacts_panel(request, customer, error=str(error))
    notice = _("Contact %(name)s removed. Their links no longer work.") % {"name": contact.name}
    return _contacts_panel(request, customer, notice=notice)


@member_required
@require_GET
def job_week(request: ContractorRequest) -> HttpResponse:
    today = timezone.localdate()
    try:
        day = dt.date.fromisoformat(request.GET.get("start", "")[:10])
    except ValueError:
        day = today
    if not dt.date(2000, 1, 1) <= day <= dt.date(2100, 12, 31):
        day = today
    monday = day - dt.timedelta(days=day.weekday())
    context = {
        "days": selectors.jobs_in_week(company=request.company, monday=monday),
        "monday": monday,
        "sunday": monday + dt.timedelta(days=6),
        "previous": monday - dt.timedelta(days=7),
        "next": monday + dt.timedelta(days=7),
        "today": today,
    }
    return render(request, "crewcommand/job_week.html", context)


@member_required(action="job.edit")
@require_http_methods(["GET", "POST"])
def job_create(request: ContractorRequest) -> HttpResponse:
    initial = {"customer": request.GET.get("customer", "")[:20]}
    form = JobForm(request.POST or None, company=request.company, initial=initial)
    if request.method == "POST" and form.is_valid():
        job = services.job_create(
            company=request.company,
            customer=form.cleaned_data["customer"],
            actor=Actor.member(request.user),
            assigned=form.cleaned_data["assigned"],
            **form.job_fields(),
        )
        messages.success(request, _("Job created."))
        return redirect(job)
    return render(request, "crewcommand/job_form.html", {"form": form})


@member_required(action="job.edit")
@require_http_methods(["GET", "POST"])
def job_edit(request: ContractorRequest, job_id: str) -> HttpResponse:
    job = selectors.job_get(company=request.company, public_id=job_id)
    form = JobForm(request.POST or None, instance=job, company=request.company)
    if request.method == "POST" and form.is_valid():
        services.job_update(
            job=job,
            actor=Actor.member(request.user),
            fields={**form.job_fields(), "customer": form.cleaned_data["customer"]},
            assigned=form.cleaned_data["assigned"],
        )
        messages.success(request, _("Job saved."))
        return redirect(job)
    return render(request, "crewcommand/job_form.html", {"form": form, "job": job})


@member_required(action="job.status")
@require_POST
def job_status(request: ContractorRequest, job_id: str) -> HttpResponse:
    job = selectors.job_get(company=request.company, public_id=job_id)
    status = request.POST.get("status", "")
    if status not in JobStatus.values:
        messages.error(request, _("Choose a valid status."))
    else:
        try:
            services.job_update(
                job=job, actor=Actor.member(request.user), fields={"status": status}
            )
        except ServiceError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request, _("Job is now %(status)s.") % {"status": job.get_status_display()}
            )
    if request.htmx:
        job = selectors.job_get(company=request.company, public_id=job_id)
        return render(
            request,
            "crewcommand/_job_status.html",
            {"job": job, "statuses": JobStatus.choices},
        )
    return redirect(job)


@member_required(action="team.manage")
@require_http_methods(["GET", "POST"])
def team(request: ContractorRequest) -> HttpResponse:
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = services.invitation_create(
                company=request.company, by=request.user, **form.cleaned_data
            )
        except ServiceError as error:
            form.add_error("email", str(error))
        else:
            send_invitation(invitation=invitation)
            messages.success(
                request, _("Invitation sent to %(email)s.") % {"email": invitation.email}
            )
            return redirect("dashboard:team")
    context = {
        "form": form,
        "members": selectors.member_list(company=request.company),
        "invitations": selectors.invitation_pending(company=request.company),
    }
    return render(request, "crewcommand/team.html", context)


@member_required(action="team.manage")
@require_POST
def invitation_revoke(request: ContractorRequest, invitation_id: str) -> HttpResponse:
    invitation = selectors.invitation_get(company=request.company, public_id=invitation_id)
    services.invitation_revoke(invitation=invitation, by=request.user)
    messages.success(request, _("Invitation revoked."))
    return redirect("dashboard:team")


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and readiness: the database answers, and so does the broker when configured."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:
        checks["database"] = "error"
    if settings.REDIS_URL:
        from crewcommand.celery import app as celery_app

        try:
            with celery_app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            checks["broker"] = "ok"
        except Exception:
            checks["broker"] = "error"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503
    )


_FLOOR_PAGES: dict[str, bytes] = {}


def bench_floor(request: HttpRequest, name: str) -> HttpResponse:
    """bench/pages.py's floor: the bytes of a page it saved as ``<name>.html`` in
    ``BENCH_FLOOR_DIR``, answered through the whole middleware stack with no other work. Routed
    only while that setting is set (never in production)."""
    body = _FLOOR_PAGES.get(name)
    if body is None:
        path = Path(settings.BENCH_FLOOR_DIR) / f"{name}.html"
        if not path.is_file():
            raise Http404
        body = _FLOOR_PAGES[name] = path.read_bytes()
    return HttpResponse(body, content_type="text/html; charset=utf-8")
