"""Forms for the core pages. Every form limits its choices to the member's company, so a
forged id is a form error, never another company's row."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import PurePath

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.forms.renderers import TemplatesSetting
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crewcommand import ratelimits
from crewcommand.lib import canada
from crewcommand.lib.images import MAX_LOGO_PIXELS, LogoError, normalise_logo
from crewcommand.lib.money import active_locale, parse_money, parse_quantity
from crewcommand.lib.text import single_line
from crewcommand.models import (
    Channel,
    Company,
    Contact,
    Customer,
    Job,
    JobStatus,
    Language,
    Member,
    PreferredChannel,
    Province,
    Role,
)


class FormRenderer(TemplatesSetting):
    """Renders every form with the project's field markup (label, input, help, error)."""

    form_template_name = "components/form.html"
    field_template_name = "components/field.html"


class SingleLineCharField(forms.CharField):
    """A one-line text field (names, titles, references): line breaks, tabs and control
    characters are normalised away on input (see ``crewcommand.lib.text.single_line``), so the
    value is safe in an email header, a PDF letterhead or a search. Use it for every one-line
    text a person types, in every app's forms."""

    def to_python(self, value) -> str:
        text = super().to_python(value)
        return single_line(text) if text not in self.empty_values else text


class _TypedNumberField(forms.CharField):
    """A number typed by a person in the active language (``crewcommand.lib.money``: the
    locale's decimal mark, so ``1,5`` in French) → Decimal. Longer than ``MAX_LENGTH``
    characters or unreadable: the ``invalid`` message, which says how to write it."""

    MAX_LENGTH = 20

    def widget_attrs(self, widget) -> dict:
        attrs = super().widget_attrs(widget)
        attrs.update({"inputmode": "decimal", "autocomplete": "off", "maxlength": self.MAX_LENGTH})
        return attrs

    def to_python(self, value) -> Decimal | None:
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        if len(text) > self.MAX_LENGTH:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        try:
            return self.parse(text, active_locale())
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None

    def parse(self, text: str, locale: str) -> Decimal:
        raise NotImplementedError


class MoneyField(_TypedNumberField):
    """A dollar amount (``1,234.56``, ``$80``; in French ``1 234,56 $``, ``1,5``) → Decimal to
    the cent. The one field for every typed amount, in every app. Greater than zero unless
    ``allow_negative`` (a discount line's price; zero allowed too)."""

    default_error_messages = {
        "invalid": _("Enter an amount like 125.50."),
        "min": _("Enter an amount greater than zero."),
    }

    def __init__(self, *, allow_negative: bool = False, **kwargs) -> None:
        self.allow_negative = allow_negative
        super().__init__(**kwargs)

    def parse(self, text: str, locale: str) -> Decimal:
        return parse_money(text, locale=locale, allow_negative=self.allow_negative)

    def validate(self, value) -> None:
        super().validate(value)
        if value is not None and not self.allow_negative and value <= 0:
            raise forms.ValidationError(self.error_messages["min"], code="min")


class QuantityField(_TypedNumberField):
    """A quantity (``2``, ``2.5``; in French ``2,5``): above 0, at most 3 decimals, kept as
    typed (``crewcommand.lib.money.parse_quantity``)."""

    default_error_messages = {
        "invalid": _("Enter a quantity above 0 with at most 3 decimals, like 1 or 2.5."),
    }

    def parse(self, text: str, locale: str) -> Decimal:
        return parse_quantity(text, locale=locale)


class _CanadianField(SingleLineCharField):
    """A one-line identifier checked and stored in one form (``crewcommand.lib.canada``)."""

    normalise = staticmethod(lambda value: value)
    message = ""

    def to_python(self, value) -> str:
        text = super().to_python(value)
        if text in self.empty_values:
            return ""
        try:
            return type(self).normalise(text)
        except canada.InvalidValue:
            raise forms.ValidationError(self.message, code="invalid") from None


class TelInput(forms.TextInput):
    input_type = "tel"


class PhoneField(_CanadianField):
    """A phone number, stored E.164 (``+15145550123``), shown and edited as ``(514) 555-0123``.
    Use it for every phone a person types."""

    widget = TelInput
    normalise = staticmethod(canada.normalise_phone)
    message = _("Enter a phone number with its area code, like 514 555 0123.")

    def prepare_value(self, value):
        return canada.display_phone(value) if isinstance(value, str) else value

    def widget_attrs(self, widget) -> dict:
        return {**super().widget_attrs(widget), "autocomplete": "tel"}


class PostalCodeField(_CanadianField):
    normalise = staticmethod(canada.normalise_postal_code)
    message = _("Enter a Canadian postal code like H2X 1Y4.")

    def widget_attrs(self, widget) -> dict:
        return {**super().widget_attrs(widget), "autocomplete": "postal-code"}


class GstNumberField(_CanadianField):
    normalise = staticmethod(canada.normalise_gst_number)
    message = _("Enter your GST/HST number as 9 digits, RT and 4 digits, like 123456789 RT0001.")


class QstNumberField(_CanadianField):
    normalise = staticmethod(canada.normalise_qst_number)
    message = _("Enter your QST number as 10 digits, TQ and 4 digits, like 1234567890 TQ0001.")


def single_line_formfield(db_field: models.Field, **kwargs) -> forms.Field | None:
    """``Meta.formfield_callback`` for model forms: every plain model ``CharField`` without
    choices becomes a ``SingleLineCharField`` (email, URL and slug fields keep their own
    validation, which already refuses line breaks)."""
    if type(db_field) is models.CharField and not db_field.choices:
        kwargs.setdefault("form_class", SingleLineCharField)
    return db_field.formfield(**kwargs)


def _email_login_field(*, input_type: str = "email") -> forms.CharField:
    # A CharField, not an EmailField: staff accounts made with a plain username still sign in
    # to the admin. The backend (crewcommand.backends.EmailBackend) ignores case.
    widget = forms.EmailInput if input_type == "email" else forms.TextInput
    attrs = {"autofocus": True, "autocomplete": "username", "inputmode": "email"}
    return forms.CharField(label=_("Email"), widget=widget(attrs=attrs))


class EmailAuthenticationForm(AuthenticationForm):
    """The login form: the account is named by its email, in any case."""

    username = _email_login_field()
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _(
            "That email and password don't match an account. Check the password (it is "
            "case-sensitive) or reset it."
        ),
    }


class EmailAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin's login form, labelled and matched the same way as the app's. A text input:
    the admin's page has no ``novalidate``, and a staff username need not be an address."""

    username = _email_login_field(input_type="text")
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": _(
            "That email and password don't match a staff account. The password is case-sensitive."
        ),
    }


class SignupForm(forms.Form):
    """Step one of signup: who you are. The password comes with step two, on the page the
    emailed link opens, so the answer here is the same whether the address has an account."""

    company_name = SingleLineCharField(label=_("Company name"), max_length=120)
    # No default: a province chosen for you would set the wrong sales taxes without a word.
    province = forms.ChoiceField(
        label=_("Province"),
        choices=[("", _("Choose a province")), *Province.choices],
        initial="",
        help_text=_("Sets your default sales taxes."),
        error_messages={
            "required": _("Choose your province: it sets the sales taxes on your invoices."),
            "invalid_choice": _("Choose your province from the list."),
        },
    )
    full_name = SingleLineCharField(label=_("Your name"), max_length=150)
    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        help_text=_("We'll send a link there to finish creating your account."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


class NewPasswordForm(forms.Form):
    """A password a person chooses for their new account, checked by Django's validators
    (length, common, numeric, and not too like the account's email or name): the one rule for
    signup and for accepting an invitation."""

    password = forms.CharField(
        label=_("Choose a password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        max_length=128,
        help_text=_("At least 8 characters, not only numbers."),
    )

    def __init__(self, *args, email: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        full_name = self.cleaned_data.get("full_name", "")
        first, _space, last = full_name.partition(" ")
        user = get_user_model()(email=self.email, first_name=first, last_name=last)
        password_validation.validate_password(password, user=user)
        return password


class SignupPasswordForm(NewPasswordForm):
    """Step two of signup, behind the emailed link."""


class PasswordResetRequestForm(PasswordResetForm):
    """Django's form, answered the same whether or not the address has an account: the mail
    is looked up and sent by a task after the response (so timing says nothing either), and at
    most ``password_reset_address`` mails per address go out."""

    def save(self, *, request: HttpRequest | None = None, **kwargs) -> None:
        from crewcommand.tasks import send_password_reset_email

        email = self.cleaned_data["email"]
        if request is not None and not ratelimits.mail_allowed(
            request, "password_reset_address", email
        ):
            return
        send_password_reset_email.delay_on_commit(email=email)


class AcceptInvitationForm(NewPasswordForm):
    """Someone invited without an account: their name and a password (``email``: the
    invitation's address)."""

    field_order = ["full_name", "password"]

    full_name = SingleLineCharField(label=_("Your name"), max_length=150)


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=254)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.OFFICE)


class LogoField(forms.ImageField):
    """A company logo: refused when it is not a PNG, JPEG, GIF or WebP, is over 1 MB, or has
    more pixels than a logo needs (a decompression bomb), all checked before its pixels are
    decoded; otherwise replaced by a small PNG copy without metadata
    (``crewcommand.lib.images``), which is what the storage keeps."""

    MAX_BYTES = 1024 * 1024

    def to_python(self, data):
        # forms.FileField, not ImageField: that one decodes the image to verify it, before any
        # size check, and its message for a bomb is the vague "corrupted image".
        upload = forms.FileField.to_python(self, data)
        if upload is None:
            return None
        if upload.size > self.MAX_BYTES:
            raise forms.ValidationError(_("The logo must be smaller than 1 MB."), code="size")
        try:
            png = normalise_logo(upload)
        except LogoError as error:
            raise forms.ValidationError(_logo_message(error), code=error.code) from None
        name = f"{PurePath(upload.name).stem[:60] or 'logo'}.png"
        return SimpleUploadedFile(name, png, content_type="image/png")


def _logo_message(error: LogoError) -> str:
    megapixels = MAX_LOGO_PIXELS // 1_000_000
    if error.code == "too_large" and error.size:
        width, height = error.size
        return _(
            "This image is %(width)s pixels wide and %(height)s tall. Use a logo of at most "
            "%(mp)s megapixels: about 1,000 pixels wide is plenty."
        ) % {"width": f"{width:,}", "height": f"{height:,}", "mp": megapixels}
    if error.code == "too_large":
        return _(
            "This image is far too large for a logo. Use one of at most %(mp)s megapixels."
        ) % {"mp": megapixels}
    return _("Upload a PNG, JPEG, GIF or WebP image. This file is not one, or it is damaged.")


class CompanyForm(forms.ModelForm):
    step_up_above = MoneyField(
        label=_("Only above (CAD)"),
        required=False,
        help_text=_("Leave empty to ask for every estimate and invoice."),
    )
    logo = LogoField(
        label=_("Logo"),
        required=False,
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}
        ),
        help_text=_("PNG, JPEG, GIF or WebP, up to 1 MB. We store a copy 600 pixels wide at most."),
    )

    class Meta:
        model = Company
        formfield_callback = single_line_formfield
        fields = [
            "name",
            "province",
            "timezone",
            "email",
            "phone",
            "website",
            "address_line1",
            "city",
            "postal_code",
            "logo",
            "brand_color",
            "google_review_url",
            "gst_number",
            "qst_number",
            "payment_instructions",
            "portal_link_days",
            "portal_closed_link_days",
            "default_language",
            "sms_from_number",
            "sms_messaging_service_sid",
            "quiet_hours_start",
            "quiet_hours_end",
            "step_up_required",
            "step_up_above",
        ]
        field_classes = {
            "phone": PhoneField,
            "postal_code": PostalCodeField,
            "gst_number": GstNumberField,
            "qst_number": QstNumberField,
        }
        help_texts = {
            "gst_number": _("Printed on your invoices, e.g. 123456789 RT0001."),
            "qst_number": _("Quebec only, e.g. 1234567890 TQ0001."),
        }
        widgets = {
            "brand_color": forms.TextInput(attrs={"type": "color"}),
            "payment_instructions": forms.Textarea(attrs={"rows": 3}),
            "quiet_hours_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_hours_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    def clean_portal_link_days(self) -> int:
        days = self.cleaned_data["portal_link_days"]
        if not 1 <= days <= 365:
            raise forms.ValidationError(_("Choose between 1 and 365 days."))
        return days

    def clean_portal_closed_link_days(self) -> int | None:
        days = self.cleaned_data["portal_closed_link_days"]
        if days is not None and days > 3650:
            raise forms.ValidationError(_("Choose at most 3650 days, or leave empty for never."))
        return days or None


class CustomerForm(forms.ModelForm):
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        choices=[("", _("The company's default")), *Language.choices],
        help_text=_("Emails, portal pages and documents are in this language."),
    )
    # Not required: a post without it (an older form) keeps what the customer had.
    preferred_channel = forms.ChoiceField(
        label=_("Preferred channel"),
        required=False,
        choices=PreferredChannel.choices,
        initial=PreferredChannel.BOTH,
        help_text=Customer._meta.get_field("preferred_channel").help_text,
    )

    def clean_preferred_channel(self) -> str:
        return (
            self.cleaned_data.get("preferred_channel")
            or self.instance.preferred_channel
            or PreferredChannel.BOTH
        )

    class Meta:
        model = Customer
        formfield_callback = single_line_formfield
        fields = [
            "name",
            "email",
            "phone",
            "address_line1",
            "city",
            "province",
            "postal_code",
            "language",
            "preferred_channel",
            "notes",
        ]
        field_classes = {"phone": PhoneField, "postal_code": PostalCodeField}
        widgets = {
            "notes": forms.Textarea(attrs={"rows": 3}),
            "email": forms.EmailInput(attrs={"autocomplete": "email"}),
            "address_line1": forms.TextInput(attrs={"autocomplete": "street-address"}),
            "city": forms.TextInput(attrs={"autocomplete": "address-level2"}),
        }


class ContactForm(forms.ModelForm):
    """A person at a customer: who they are, how to reach them, what they agreed to."""

    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        choices=[("", _("The customer's language")), *Language.choices],
    )
    preferred_channel = forms.ChoiceField(
        label=_("Preferred channel"),
        required=False,
        choices=[("", _("No preference")), *Channel.choices],
    )

    class Meta:
        model = Contact
        formfield_callback = single_line_formfield
        fields = [
            "name",
            "role",
            "email",
            "phone",
            "preferred_channel",
            "email_consent",
            "sms_consent",
            "language",
        ]
        field_classes = {"phone": PhoneField}
        widgets = {"email": forms.EmailInput(attrs={"autocomplete": "off"})}

    def clean(self) -> dict:
        data = super().clean()
        email, phone = data.get("email"), data.get("phone")
        if "email" in self.errors or "phone" in self.errors:
            return data
        if not email and not phone:
            raise forms.ValidationError(_("Give an email address or a mobile number."))
        channel = data.get("preferred_channel")
        if channel == Channel.SMS and not phone:
            self.add_error("preferred_channel", _("Texts need a mobile number."))
        if channel == Channel.EMAIL and not email:
            self.add_error("preferred_channel", _("Emails need an email address."))
        return data


class JobForm(forms.ModelForm):
    """A job with its time window entered in the company's time zone."""

    customer = forms.ModelChoiceField(
        label=_("Customer"), queryset=Customer.objects.none(), to_field_name="public_id"
    )
    date = forms.DateField(
        label=_("Date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    start_time = forms.TimeField(
        label=_("From"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    end_time = forms.TimeField(
        label=_("To"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    assigned = forms.ModelMultipleChoiceField(
        label=_("Crew"),
        queryset=Member.objects.none(),
        to_field_name="public_id",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Job
        formfield_callback = single_line_formfield
        fields = ["customer", "title", "description", "address", "status"]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, company: Company, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.company = company
        self.fields["customer"].queryset = Customer.objects.filter(company=company)
        self.fields["assigned"].queryset = Member.objects.filter(company=company).select_related(
            "user"
        )
        self.fields["assigned"].label_from_instance = lambda m: m.display_name
        self.fields["address"].help_text = _("Leave empty to use the customer's address.")
        if self.instance.pk:
            self.initial["customer"] = self.instance.customer.public_id
            self.initial["assigned"] = [m.public_id for m in self.instance.assigned.all()]
            if start := self.instance.scheduled_start:
                local = timezone.localtime(start)
                self.initial.update(date=local.date(), start_time=local.time())
            if end := self.instance.scheduled_end:
                self.initial["end_time"] = timezone.localtime(end).time()

    def clean(self) -> dict:
        data = super().clean()
        day, start, end = data.get("date"), data.get("start_time"), data.get("end_time")
        if day is None:
            if start or end:
                self.add_error("date", _("Pick a date for this time window."))
            data["scheduled_start"] = data["scheduled_end"] = None
            if data.get("status") in {JobStatus.SCHEDULED, JobStatus.IN_PROGRESS}:
                self.add_error("date", _("A scheduled job needs a date."))
            return data
        if start is None:
            self.add_error("start_time", _("Enter a start time."))
            return data
        if not (dt.date(2000, 1, 1) <= day <= dt.date(2100, 12, 31)):
            self.add_error("date", _("Enter a date between 2000 and 2100."))
            return data
        tz = timezone.get_current_timezone()
        data["scheduled_start"] = dt.datetime.combine(day, start, tzinfo=tz)
        data["scheduled_end"] = dt.datetime.combine(day, end, tzinfo=tz) if end else None
        if end is not None and end <= start:
            self.add_error("end_time", _("The end time must be after the start time."))
        return data

    def job_fields(self) -> dict:
        data = self.cleaned_data
        fields = {name: data[name] for name in ("title", "description", "address", "status")}
        fields.update(scheduled_start=data["scheduled_start"], scheduled_end=data["scheduled_end"])
        return fields
