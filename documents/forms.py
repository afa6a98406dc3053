"""Forms for estimates, invoices and their lines. Money and quantities are parsed with
``crewcommand.lib.money`` so every bad number gets a message that says how to fix it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crewcommand.forms import MoneyField, QuantityField, SingleLineCharField
from crewcommand.lib.money import format_cad
from crewcommand.models import Company, Customer, Job
from crewcommand.templatetags.money import TAX_LABELS
from documents.models import (
    DepositKind,
    EstimateRevision,
    EstimateStatus,
    Invoice,
    InvoiceStatus,
    LineKind,
    PaymentTerms,
    TaxParts,
)
from documents.tax import FEDERAL, LABOUR_PRESETS, PROVINCIAL, part_names

# The package list's "New package…" entry (a package literally named so is not offered twice).
NEW_PACKAGE = "__new__"

MIN_DATE, MAX_DATE = dt.date(2000, 1, 1), dt.date(2100, 12, 31)


class DateInput(forms.DateInput):
    input_type = "date"


def _check_date(value: dt.date | None) -> dt.date | None:
    if value is not None and not MIN_DATE <= value <= MAX_DATE:
        raise forms.ValidationError(_("Enter a date between 2000 and 2100."))
    return value


class DocumentStartForm(forms.Form):
    """Who a new estimate or invoice is for."""

    customer = forms.ModelChoiceField(
        label=_("Customer"), queryset=Customer.objects.none(), to_field_name="public_id"
    )
    job = forms.ModelChoiceField(
        label=_("Job"),
        queryset=Job.objects.none(),
        to_field_name="public_id",
        required=False,
        help_text=_("Optional: tie it to a job so it shows on the job's page."),
    )

    def __init__(self, *args, company: Company, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = Customer.objects.filter(company=company)
        self.fields["job"].queryset = Job.objects.filter(company=company).select_related("customer")
        self.fields["job"].label_from_instance = lambda j: f"{j.title} — {j.customer.name}"

    def clean(self) -> dict:
        data = super().clean()
        job, customer = data.get("job"), data.get("customer")
        if job and customer and job.customer_id != customer.pk:
            self.add_error("job", _("That job belongs to another customer."))
        return data


class EstimateForm(forms.ModelForm):
    class Meta:
        model = EstimateRevision
        fields = ["province", "valid_until", "deposit_kind", "deposit_value", "notes", "terms"]
        widgets = {
            "valid_until": DateInput(),
            "notes": forms.Textarea(attrs={"rows": 3}),
            "terms": forms.Textarea(attrs={"rows": 4}),
        }
        help_texts = {"deposit_value": _("A percentage (e.g. 25) or an amount in dollars.")}

    def clean_valid_until(self):
        value = _check_date(self.cleaned_data.get("valid_until"))
        # A date already past is refused when it is entered; one that passed since (an expired
        # estimate being edited) is kept as it is.
        if (
            value is not None
            and value != self.instance.valid_until
            and value < timezone.localdate()
        ):
            raise forms.ValidationError(_("“Valid until” can't be in the past."))
        return value

    def clean(self) -> dict:
        data = super().clean()
        kind, value = data.get("deposit_kind"), data.get("deposit_value")
        if value is None:
            return data
        if kind == DepositKind.PERCENT and not Decimal(0) < value <= 100:
            self.add_error("deposit_value", _("A percentage deposit must be between 1 and 100."))
        elif kind == DepositKind.FIXED and value <= 0:
            self.add_error("deposit_value", _("Enter the deposit amount in dollars."))
        elif kind == DepositKind.FIXED and value > self.instance.total:
            self.add_error(
                "deposit_value",
                _(
                    "A fixed deposit can't be more than the estimate's total (%(total)s). "
                    "Add the lines first, or ask for a percentage."
                )
                % {"total": format_cad(self.instance.total)},
            )
        elif kind == DepositKind.NONE:
            data["deposit_value"] = Decimal("0.00")
        return data


class InvoiceForm(forms.ModelForm):
    class Meta:
        model = Invoice
        fields = ["province", "issue_date", "terms", "due_date", "notes", "terms_text"]
        widgets = {
            "issue_date": DateInput(),
            "due_date": DateInput(),
            "notes": forms.Textarea(attrs={"rows": 3}),
            "terms_text": forms.Textarea(attrs={"rows": 4}),
        }
        help_texts = {"due_date": _("Used only with “Custom date” terms.")}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["due_date"].required = False

    def clean_issue_date(self):
        return _check_date(self.cleaned_data.get("issue_date"))

    def clean_due_date(self):
        return _check_date(self.cleaned_data.get("due_date"))

    def clean(self) -> dict:
        data = super().clean()
        issue, due, terms = data.get("issue_date"), data.get("due_date"), data.get("terms")
        if issue and terms and terms != PaymentTerms.CUSTOM:
            data["due_date"] = Invoice.due_date_for(issue, terms)
        elif issue and terms == PaymentTerms.CUSTOM and due is None:
            self.add_error("due_date", _("Pick the due date for custom terms."))
        elif issue and due and due < issue:
            self.add_error("due_date", _("The due date can't be before the invoice date."))
        return data


class LineForm(forms.Form):
    description = forms.CharField(label=_("Description"), max_length=500)
    quantity = QuantityField(label=_("Qty"), initial="1")
    unit_price = MoneyField(
        label=_("Unit price"),
        allow_negative=True,
        error_messages={
            "invalid": _("Enter a price like 149.99: at most 2 decimals, below $100,000,000.")
        },
    )
    taxable = forms.BooleanField(label=_("Taxable"), required=False, initial=True)
    # Shown where the province has a provincial tax beside GST (BC, SK, MB, QC); elsewhere a
    # hidden field that keeps the line's value.
    tax_parts = forms.ChoiceField(
        label=_("Which taxes"), choices=TaxParts.choices, initial=TaxParts.ALL, required=False
    )
    kind = forms.ChoiceField(label=_("Type"), choices=LineKind.choices, initial=LineKind.STANDARD)
    # A package is chosen from the ones already on the estimate, or created on purpose with
    # "New package…" and a name: a typo can no longer start a second package by accident.
    # A CharField with a list: the list is checked below, and only for package options, so a
    # stale or odd value never blocks saving another kind of line.
    group = forms.CharField(
        label=_("Package"),
        required=False,
        widget=forms.Select,
        help_text=_("Package options only: the customer picks one option per package."),
    )
    new_group = SingleLineCharField(
        label=_("New package name"),
        max_length=100,
        required=False,
        help_text=_("For example “Water heater”. A name already used joins that package."),
    )
    selected_by_default = forms.BooleanField(
        label=_("Selected by default"),
        required=False,
        initial=True,
        help_text=_("Add-ons and package options only."),
    )

    def __init__(
        self,
        *args,
        allow_options: bool = True,
        province: str = "",
        packages: Sequence[str] = (),
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._tax_parts_field(province)
        self.packages = list(dict.fromkeys(n for n in packages if n and n != NEW_PACKAGE))
        if not allow_options:
            for name in ("kind", "group", "new_group", "selected_by_default"):
                del self.fields[name]
            return
        field = self.fields["group"]
        new = (NEW_PACKAGE, _("New package…"))
        field.widget.choices = [*((name, name) for name in self.packages), new]
        if not self.is_bound and not self.initial.get("group"):
            # The first package on the estimate, or a new one when there is none yet.
            self.initial["group"] = self.packages[0] if self.packages else NEW_PACKAGE

    def _tax_parts_field(self, province: str) -> None:
        """Name the choices after the province's taxes ("GST and PST", "GST only", "PST only"),
        with the usual case for labour as help; one tax only: nothing to choose."""
        field = self.fields["tax_parts"]
        names = part_names(province) if province else {}
        federal, provincial = names.get(FEDERAL), names.get(PROVINCIAL)
        if not (federal and provincial):
            field.widget = forms.HiddenInput()
            return
        federal, provincial = TAX_LABELS[federal], TAX_LABELS[provincial]
        field.required = True  # a select always sends a value; no "(optional)" beside it
        field.choices = [
            (TaxParts.ALL, _("%(a)s and %(b)s") % {"a": federal, "b": provincial}),
            (TaxParts.FEDERAL, _("%(tax)s only") % {"tax": federal}),
            (TaxParts.PROVINCIAL, _("%(tax)s only") % {"tax": provincial}),
        ]
        if LABOUR_PRESETS.get(province) == FEDERAL:
            field.help_text = _(
                "Labour on real property is usually %(federal)s only (no %(provincial)s)."
            ) % {"federal": federal, "provincial": provincial}

    def clean_tax_parts(self) -> str:
        return self.cleaned_data.get("tax_parts") or TaxParts.ALL

    def clean_description(self) -> str:
        text = self.cleaned_data["description"].strip()
        if any(ord(ch) < 32 for ch in text):
            raise forms.ValidationError(_("Remove line breaks and control characters."))
        return text

    def clean(self) -> dict:
        data = super().clean()
        if "kind" in self.fields:
            self._clean_options(data)
        if not data.get("taxable"):
            data["tax_parts"] = TaxParts.ALL  # no tax at all; one way to say it
        return data

    def _clean_options(self, data: dict) -> None:
        """Settle the package and the default of an option line. A typed new name wins over
        the list (without JavaScript both are shown); one that matches a package already on
        the estimate, ignoring case and spacing, joins it rather than starting a look-alike.
        Standard lines carry neither: their package is cleared and "selected" kept at its
        default, whatever was posted."""
        kind = data.get("kind")
        typed = " ".join((data.pop("new_group", "") or "").split())
        if kind != LineKind.CHOICE:
            data["group"] = ""
            if kind == LineKind.STANDARD:
                data["selected_by_default"] = True
            return
        chosen = data.get("group") or ""
        if typed:
            data["group"] = package_match(typed, self.packages) or typed
        elif chosen == NEW_PACKAGE:
            self.add_error("new_group", _("Name the new package, e.g. “Water heater”."))
        elif not chosen:
            self.add_error(
                "group",
                _("Name the package: choose one from the list, or “New package…” and its name."),
            )
        elif chosen not in self.packages:
            self.add_error(
                "group",
                _("That package is no longer on this estimate: choose another, or “New package…”."),
            )


def package_key(name: str) -> str:
    """What makes two package names the same package: case and spacing do not count."""
    return " ".join(name.split()).casefold()


def package_match(name: str, packages: Sequence[str]) -> str | None:
    """The package already on the estimate that ``name`` means, spelt as it is there."""
    key = package_key(name)
    return next((package for package in packages if package_key(package) == key), None)


ESTIMATE_FILTERS = [
    ("", _("All")),
    *[(s.value, s.label) for s in EstimateStatus],
]
INVOICE_FILTERS = [
    ("", _("All")),
    *[(s.value, s.label) for s in InvoiceStatus if s != InvoiceStatus.VOID],
    ("overdue", _("Overdue")),
    (InvoiceStatus.VOID.value, InvoiceStatus.VOID.label),
]
