"""Contractor pages for estimates and invoices. Thin: access → form → one service → render."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from crewcommand.access import ContractorRequest, member_required
from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from crewcommand.lib.listing import is_partial, render_list
from crewcommand.permissions import require
from crewcommand.selectors import activity_for, clean_query
from documents import selectors, services
from documents.actions import ACTIONS, CONFIRMATIONS
from documents.forms import (
    ESTIMATE_FILTERS,
    INVOICE_FILTERS,
    DocumentStartForm,
    EstimateForm,
    InvoiceForm,
    LineForm,
)
from documents.models import Estimate, EstimateStatus, Invoice, InvoiceStatus, LineItem, LineKind
from documents.totals import Selection, estimate_figures, invoice_totals, is_selected


def _redirect(request: ContractorRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _edit_permission(*, kind: str, **_: str) -> str:
    return f"{kind}.edit"


def _action_permission(*, kind: str, action: str, **_: str) -> str:
    # An unknown action answers 404 in the view; it needs no more than seeing the document.
    return f"{kind}.{action}" if (kind, action) in ACTIONS else "dashboard.view"


def _editable(request: ContractorRequest, kind: str, doc_id: str) -> Estimate | Invoice:
    """The document an edit goes to. Editing a sent estimate starts a new revision, which is
    the estimate.revise permission, not estimate.edit."""
    doc = _document(request, kind, doc_id)
    if kind == "estimate" and doc.current_revision.is_frozen:
        require(request, "estimate.revise")
    return doc


# --- Lists --------------------------------------------------------------------------------------


@member_required
@require_GET
def estimate_list(request: ContractorRequest) -> HttpResponse:
    return _document_list(request, "estimate")


@member_required
@require_GET
def invoice_list(request: ContractorRequest) -> HttpResponse:
    return _document_list(request, "invoice")


def _document_list(request: ContractorRequest, kind: str) -> HttpResponse:
    """The estimates or invoices, searched (``q``) and filtered by ``status``."""
    status = request.GET.get("status", "")
    query = clean_query(request.GET.get("q"))
    if kind == "estimate":
        rows = selectors.estimate_list(company=request.company, status=status, query=query)
        context = {"q": query, "status": status, "filters": ESTIMATE_FILTERS}
    else:
        rows = (
            selectors.invoice_list(company=request.company, status=status, query=query)
            if status or query
            else selectors.InvoicePages(request.company)  # the usual view: compiled once
        )
        context = {
            "q": query,
            "status": status,
            "filters": INVOICE_FILTERS,
            "summary": selectors.invoice_summary(company=request.company),
        }
    return render_list(request, f"documents/{kind}_list.html", rows, context)


# --- Create --------------------------------------------------------------------------------------


def _start(request: ContractorRequest, kind: str) -> HttpResponse:
    initial = {k: request.GET.get(k, "")[:20] for k in ("customer", "job")}
    form = DocumentStartForm(request.POST or None, company=request.company, initial=initial)
    if request.method == "POST" and form.is_valid():
        create = services.estimate_create if kind == "estimate" else services.invoice_create
        try:
            doc = create(
                company=request.company,
                customer=form.cleaned_data["customer"],
                job=form.cleaned_data["job"],
                actor=Actor.member(request.user),
            )
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            return redirect(doc)
    return render(request, "documents/start.html", {"form": form, "kind": kind})


@member_required(action="estimate.create")
@require_http_methods(["GET", "POST"])
def estimate_create(request: ContractorRequest) -> HttpResponse:
    return _start(request, "estimate")


@member_required(action="invoice.create")
@require_http_methods(["GET", "POST"])
def invoice_create(request: ContractorRequest) -> HttpResponse:
    return _start(request, "invoice")


# --- Detail pages ------------------------------------------------------------------------------


def estimate_context(estimate: Estimate, revision=None) -> dict:
    revision = revision or estimate.current_revision
    lines = list(revision.lines.all())
    # Once accepted, the signed revision reads with the customer's choices, like the portal,
    # the signed PDF, the invoice and Stripe; before, with the default options.
    figures = estimate_figures(estimate, revision, lines=lines)
    for line in lines:
        line.is_picked = is_selected(line, figures.selection)
    editable = (
        revision.pk == estimate.current_revision_id
        and not revision.is_frozen
        and (estimate.status != EstimateStatus.ACCEPTED)
    )
    return {
        "doc": estimate,
        "kind": "estimate",
        "estimate": estimate,
        "revision": revision,
        "lines": lines,
        "totals": figures.totals,
        "deposit": figures.deposit,
        "chosen": figures.chosen,
        "has_options": any(line.kind != LineKind.STANDARD for line in lines),
        "editable": editable,
        "allow_options": True,
        "province": revision.province,
        "line_form": LineForm(
            province=revision.province,
            packages=[line.group for line in lines if line.kind == LineKind.CHOICE],
        ),
    }


def _revisions(estimate: Estimate, shown: dict) -> list:
    """Every revision with the total to list beside it: the one on the page as the page shows
    it, the accepted one with the customer's choices, the others with their defaults."""
    revisions = list(estimate.revisions.order_by("-number"))
    for rev in revisions:
        if rev.pk == shown["revision"].pk:
            rev.shown_total = shown["totals"].total
        elif estimate.status == EstimateStatus.ACCEPTED and rev.pk == estimate.accepted_revision_id:
            rev.shown_total = estimate_figures(estimate, rev).total
        else:
            rev.shown_total = rev.total
    return revisions


@member_required
@require_GET
def estimate_detail(request: ContractorRequest, estimate_id: str) -> HttpResponse:
    estimate = selectors.estimate_get(company=request.company, public_id=estimate_id)
    return _detail_page(request, estimate)


@member_required
@require_GET
def estimate_revision(request: ContractorRequest, estimate_id: str, revision: int) -> HttpResponse:
    estimate = selectors.estimate_get(company=request.company, public_id=estimate_id)
    context = estimate_context(estimate, selectors.revision_get(estimate=estimate, number=revision))
    context["editable"] = False
    context["revisions"] = _revisions(estimate, context)
    context["activity"] = []
    return render(request, "documents/estimate_detail.html", context)


def invoice_context(invoice: Invoice) -> dict:
    lines = list(invoice.lines.all())
    return {
        "doc": invoice,
        "kind": "invoice",
        "invoice": invoice,
        "lines": lines,
        "totals": invoice_totals(invoice, lines=lines),
        "editable": invoice.status == InvoiceStatus.DRAFT,
        "allow_options": False,
        "province": invoice.province,
        "line_form": LineForm(allow_options=False, province=invoice.province),
    }


@member_required
@require_GET
def invoice_detail(request: ContractorRequest, invoice_id: str) -> HttpResponse:
    invoice = selectors.invoice_get(company=request.company, public_id=invoice_id)
    return _detail_page(request, invoice)


def _detail_page(
    request: ContractorRequest, doc: Estimate | Invoice, *, settings_form=None, line_form=None
) -> HttpResponse:
    """The whole estimate or invoice page; with a bound form when a plain (no-JavaScript) POST
    of the details or of a new line needs its errors shown in place."""
    if isinstance(doc, Estimate):
        context = estimate_context(doc)
        context["settings_form"] = settings_form or EstimateForm(instance=doc.current_revision)
        context["revisions"] = _revisions(doc, context)
    else:
        context = invoice_context(doc)
        context["settings_form"] = settings_form or InvoiceForm(instance=doc)
    if line_form is not None:
        context["line_form"] = line_form
    context["activity"] = activity_for(company=request.company, target=doc)
    return render(request, f"documents/{context['kind']}_detail.html", context)


# --- Document settings and actions --------------------------------------------------------------


SETTINGS = {
    "estimate": (EstimateForm, services.estimate_update, gettext_lazy("Estimate details saved.")),
    "invoice": (InvoiceForm, services.invoice_update, gettext_lazy("Invoice details saved.")),
}


@member_required(action=_edit_permission)
@require_POST
def document_settings(request: ContractorRequest, kind: str, **ids: str) -> HttpResponse:
    """Save an estimate's (current revision's) or an invoice's details; errors stay in place."""
    doc = _editable(request, kind, _doc_id(ids))
    form_class, update, done = SETTINGS[kind]
    form = form_class(request.POST, instance=doc.current_revision if kind == "estimate" else doc)
    if form.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        try:
            update(**{kind: doc}, actor=Actor.member(request.user), fields=fields)
        except ServiceError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, done)
            return _redirect(request, doc.get_absolute_url())
    doc.refresh_from_db()
    if not is_partial(request):
        return _detail_page(request, doc, settings_form=form)
    context = estimate_context(doc) if kind == "estimate" else invoice_context(doc)
    context["settings_form"] = form
    return render(request, f"documents/{kind}_detail.html#settings", context)


def _doc_id(ids: dict[str, str]) -> str:
    return ids.get("estimate_id") or ids["invoice_id"]


def _document(request: ContractorRequest, kind: str, doc_id: str) -> Estimate | Invoice:
    if kind == "estimate":
        return selectors.estimate_get(company=request.company, public_id=doc_id)
    return selectors.invoice_get(company=request.company, public_id=doc_id)


MESSAGE_LEVELS = {"warning": messages.WARNING, "info": messages.INFO}


@member_required(action=_action_permission)
@require_http_methods(["GET", "POST"])
def document_action(request: ContractorRequest, kind: str, action: str, **ids: str) -> HttpResponse:
    """Run a registered action (``documents.actions``). One that asks first shows its
    confirmation on GET (a dialog for htmx, a page without JavaScript) and runs only from a
    POST whose form is valid; a POST with a bad form shows the confirmation again, its errors
    next to the fields, and changes nothing."""
    if (kind, action) not in ACTIONS:
        raise Http404
    confirm = CONFIRMATIONS.get((kind, action))
    if request.method == "GET" and confirm is None:
        return HttpResponseNotAllowed(["POST"])
    doc = _document(request, kind, _doc_id(ids))
    service, done = ACTIONS[(kind, action)]
    options: dict = {}
    if confirm is not None:
        form, context = confirm.prepare(doc, request.POST if request.method == "POST" else None)
        if request.method == "GET" or not form.is_valid():
            context.update(form=form, document=doc, action_url=request.path)
            template = f"{confirm.template}#dialog" if request.htmx else confirm.template
            return render(request, template, context)
        options = form.cleaned_data
    try:
        result = service(**{kind: doc}, actor=Actor.member(request.user), **options)
    except ServiceError as error:
        level = MESSAGE_LEVELS.get(getattr(error, "level", ""), messages.ERROR)
        messages.add_message(request, level, str(error))
        return _redirect(request, doc.get_absolute_url())
    if action == "send" and not doc.customer.email:
        messages.warning(
            request,
            _("Marked as sent. %(name)s has no email address: copy their link and send it.")
            % {"name": doc.customer.name},
        )
    else:
        messages.success(request, done)
    target = result if isinstance(result, Estimate | Invoice) else doc
    return _redirect(request, target.get_absolute_url())


@member_required
@require_GET
def document_pdf(request: ContractorRequest, kind: str, **ids: str) -> HttpResponse:
    from documents import pdf

    doc = _document(request, kind, _doc_id(ids))
    if kind == "estimate":
        revision = doc.current_revision
        if number := request.GET.get("revision", ""):
            if not number.isdigit() or len(number) > 4:
                raise Http404
            revision = selectors.revision_get(estimate=doc, number=int(number))
        selection = None
        if doc.accepted_revision_id == revision.pk:
            selection = Selection.from_json(doc.accepted_selection)
        content = pdf.render_estimate_pdf(estimate=doc, revision=revision, selection=selection)
        filename = pdf.pdf_filename(revision)
    else:
        content = pdf.render_invoice_pdf(invoice=doc)
        filename = pdf.pdf_filename(doc)
    response = HttpResponse(content, content_type="application/pdf")
    disposition = "attachment" if request.GET.get("download") else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


# --- Line editor ---------------------------------------------------------------------------------


def _editor(request: ContractorRequest, kind: str, doc_id: str, *, line_form=None) -> HttpResponse:
    """The line editor again, for htmx; a plain POST (no JavaScript) gets the whole page, with
    the bound form's errors in place."""
    doc = _document(request, kind, doc_id)
    if not is_partial(request):
        return _detail_page(request, doc, line_form=line_form)
    context = estimate_context(doc) if kind == "estimate" else invoice_context(doc)
    if line_form is not None:
        context["line_form"] = line_form
    return render(request, "documents/_editor.html#editor", context)


def _lines_changed(request: ContractorRequest, kind: str, doc: Estimate | Invoice) -> HttpResponse:
    """After a line was added, moved or removed (or that failed, with a message): htmx gets
    the editor with the new totals; a plain POST goes back to the document's page, where the
    message shows."""
    if is_partial(request):
        return _editor(request, kind, doc.public_id)
    return redirect(doc.get_absolute_url() + "#line-editor")


@member_required(action=_edit_permission)
@require_POST
def line_add(request: ContractorRequest, kind: str, **ids: str) -> HttpResponse:
    doc_id = _doc_id(ids)
    doc = _editable(request, kind, doc_id)
    form = LineForm(
        request.POST,
        allow_options=kind == "estimate",
        province=_province(doc),
        packages=_packages(doc),
    )
    if not form.is_valid():
        return _editor(request, kind, doc_id, line_form=form)
    try:
        services.line_save(doc=doc, actor=Actor.member(request.user), fields=form.cleaned_data)
    except ServiceError as error:
        form.add_error(None, str(error))
        return _editor(request, kind, doc_id, line_form=form)
    messages.success(request, _("Line added."))
    return _lines_changed(request, kind, doc)


def _packages(doc: Estimate | Invoice) -> list[str]:
    """The packages already on the lines being edited, to choose from (invoices have none)."""
    if isinstance(doc, Invoice):
        return []
    return selectors.package_names(revision_id=doc.current_revision_id)


def _province(doc: Estimate | Invoice) -> str:
    """The tax province the document's lines are taxed in (the estimate's current revision)."""
    return doc.current_revision.province if isinstance(doc, Estimate) else doc.province


def _line(request: ContractorRequest, kind: str, doc: Estimate | Invoice, line_id: str) -> LineItem:
    owner = {"revision__estimate": doc} if kind == "estimate" else {"invoice": doc}
    line = LineItem.objects.filter(public_id=line_id, **owner).first()
    if line is None:
        raise Http404
    return line


@member_required(action=_edit_permission)
@require_http_methods(["GET", "POST"])
def line_edit(request: ContractorRequest, kind: str, line_id: str, **ids: str) -> HttpResponse:
    """GET: the row as an inline form (or as a row again with ?cancel=1). POST: save it."""
    doc_id = _doc_id(ids)
    doc = _editable(request, kind, doc_id)
    line = _line(request, kind, doc, line_id)
    allow_options = kind == "estimate"
    if request.method == "GET":
        initial = {
            "description": line.description,
            "quantity": line.quantity.normalize(),
            "unit_price": line.unit_price,
            "taxable": line.taxable,
            "tax_parts": line.tax_parts,
            "kind": line.kind,
            "group": line.group,
            "selected_by_default": line.selected_by_default,
        }
        form = LineForm(
            initial=initial,
            allow_options=allow_options,
            province=_province(doc),
            packages=_packages(doc),
        )
        if not is_partial(request):
            return render(request, "documents/line_edit.html", _row_context(line, form, doc, kind))
        template = "#row" if request.GET.get("cancel") else "#row_edit"
        return render(
            request, "documents/_editor.html" + template, _row_context(line, form, doc, kind)
        )
    form = LineForm(
        request.POST, allow_options=allow_options, province=_province(doc), packages=_packages(doc)
    )
    if form.is_valid():
        try:
            services.line_save(
                doc=doc, actor=Actor.member(request.user), fields=form.cleaned_data, line_id=line_id
            )
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            if not is_partial(request):
                messages.success(request, _("Line saved."))
                return redirect(doc.get_absolute_url() + "#line-editor")
            # The row was the target; a saved line can change totals, so swap the editor.
            return reswap(retarget(_editor(request, kind, doc_id), "#line-editor"), "outerHTML")
    partial = is_partial(request)
    template = "documents/_editor.html#row_edit" if partial else "documents/line_edit.html"
    return render(request, template, _row_context(line, form, doc, kind))


def _row_context(line, form, doc, kind: str) -> dict:
    """What the editor's line row renders with, shown or being edited."""
    return {
        "line": line,
        "form": form,
        "doc": doc,
        "kind": kind,
        "editable": True,
        "province": _province(doc),
    }


@member_required(action=_edit_permission)
@require_POST
def line_delete(request: ContractorRequest, kind: str, line_id: str, **ids: str) -> HttpResponse:
    doc_id = _doc_id(ids)
    doc = _editable(request, kind, doc_id)
    _line(request, kind, doc, line_id)
    try:
        services.line_delete(doc=doc, actor=Actor.member(request.user), line_id=line_id)
    except ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Line removed."))
    return _lines_changed(request, kind, doc)


@member_required(action=_edit_permission)
@require_POST
def line_move(request: ContractorRequest, kind: str, line_id: str, **ids: str) -> HttpResponse:
    doc_id = _doc_id(ids)
    doc = _editable(request, kind, doc_id)
    _line(request, kind, doc, line_id)
    offset = -1 if request.POST.get("direction") == "up" else 1
    try:
        services.line_move(
            doc=doc, actor=Actor.member(request.user), line_id=line_id, offset=offset
        )
    except ServiceError as error:
        messages.error(request, str(error))
    return _lines_changed(request, kind, doc)
