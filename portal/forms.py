"""Customer-facing forms of the portal. Every text a customer types is length-limited and
refused if it holds control or invisible formatting characters (bidi overrides, NUL…)."""

from __future__ import annotations

import datetime as dt
import unicodedata

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from documents.models import LineItem, LineKind
from documents.totals import Selection, default_selection, validate_selection
from portal.models import SignatureMethod
from portal.services import SignatureIn
from portal.signatures import MAX_PAYLOAD_CHARS, SignatureImageError, drawn_svg, typed_svg

CONSENT_TEXT = _(
    "I agree to sign this estimate electronically. My electronic signature is as binding as "
    "a handwritten one, and I accept the estimate, the options I selected and its terms."
)
MAX_MESSAGE = 2000


def clean_text(value: str, *, multiline: bool = False) -> str:
    allowed = {"\n", "\r", "\t"} if multiline else set()
    for char in value:
        if char in allowed:
            continue
        if unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co", "Cn"}:
            raise ValidationError(
                _("Remove the special or invisible characters from this text."), code="control"
            )
    value = unicodedata.normalize("NFC", value).strip()
    return value.replace("\r\n", "\n") if multiline else " ".join(value.split())


def code_field() -> forms.CharField:
    """The one-time code's field (``portal.stepup``), shared by the sign form here and billing's
    pay form: optional here, since the view checks it only when the company asks for one."""
    return forms.CharField(
        label=_("Code we sent you"),
        required=False,
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "size": "8"}
        ),
    )


class AcceptForm(forms.Form):
    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=32767)
    signer_name = forms.CharField(
        label=_("Your full name"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "name", "autocapitalize": "words"}),
    )
    method = forms.ChoiceField(
        label=_("How would you like to sign?"),
        choices=[
            (SignatureMethod.DRAWN, _("Draw my signature")),
            (SignatureMethod.TYPED, _("Use my typed name as my signature")),
        ],
        initial=SignatureMethod.TYPED,
        widget=forms.RadioSelect,
    )
    strokes = forms.CharField(
        required=False, widget=forms.HiddenInput, max_length=MAX_PAYLOAD_CHARS
    )
    consent = forms.BooleanField(label=CONSENT_TEXT, required=True)
    # The one-time code, when the company asks for one (portal.stepup); checked by the view.
    code = code_field()

    def clean_signer_name(self) -> str:
        name = clean_text(self.cleaned_data["signer_name"])
        if len(name) < 2:
            raise ValidationError(_("Type your full name as it should appear on the signature."))
        return name

    def clean(self) -> dict:
        data = super().clean()
        name, method = data.get("signer_name"), data.get("method")
        if not name or not method:
            return data
        try:
            if method == SignatureMethod.DRAWN:
                data["image_svg"] = drawn_svg(data.get("strokes") or "")
            else:
                data["image_svg"] = typed_svg(name)
        except SignatureImageError as error:
            self.add_error("strokes", str(error))
        return data

    def signature_in(self) -> SignatureIn:
        return SignatureIn(
            signer_name=self.cleaned_data["signer_name"],
            method=self.cleaned_data["method"],
            image_svg=self.cleaned_data["image_svg"],
            consent_text=str(CONSENT_TEXT),
            language=translation.get_language() or settings.LANGUAGE_CODE,
        )


class CodeForm(forms.Form):
    """Asking for a one-time code: what for, and the page to come back to."""

    purpose = forms.ChoiceField(choices=[("sign", "sign"), ("pay", "pay")])
    next = forms.CharField(required=False, max_length=2000)


def clean_code(value: str) -> str:
    """A typed code without its spaces, or a ValidationError that says what a code looks like."""
    code = "".join((value or "").split())
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        raise ValidationError(_("Type the 6-digit code we sent you."), code="code")
    return code


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=MAX_MESSAGE,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args, company_name: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].help_text = _(
            "Telling %(company)s why helps them serve you better."
        ) % {"company": company_name}

    def clean_reason(self) -> str:
        return clean_text(self.cleaned_data["reason"], multiline=True)


class ChangesForm(forms.Form):
    message = forms.CharField(
        label=_("What would you like changed?"),
        max_length=MAX_MESSAGE,
        widget=forms.Textarea(attrs={"rows": 5}),
    )

    def clean_message(self) -> str:
        message = clean_text(self.cleaned_data["message"], multiline=True)
        if not message:
            raise ValidationError(_("Write a short message."))
        return message


class FreshLinkForm(forms.Form):
    contact = forms.CharField(
        label=_("Your email address or mobile number"),
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "email"}),
    )

    def clean_contact(self) -> str:
        return clean_text(self.cleaned_data["contact"])


def selection_from_data(data: QueryDict | None, lines: list[LineItem]) -> Selection:
    """The customer's picks from form data (``optional`` checkboxes, ``choice-N`` radios),
    keeping only real lines of this revision; without data, the defaults."""
    if data is None:
        return default_selection(lines)
    by_id = {line.public_id: line for line in lines}
    optional = frozenset(
        pid
        for pid in data.getlist("optional")[:500]
        if pid in by_id and by_id[pid].kind == LineKind.OPTIONAL
    )
    choices: dict[str, str] = {}
    for key in list(data.keys())[:500]:
        if not key.startswith("choice-"):
            continue
        for pid in data.getlist(key)[:5]:
            line = by_id.get(pid)
            if line is not None and line.kind == LineKind.CHOICE:
                choices[line.group] = pid
    return validate_selection(lines, Selection(optional, choices))


class LinkCreateForm(forms.Form):
    """Dashboard: make a link to copy and send by hand."""

    sent_to = forms.CharField(
        label=_("Who is it for?"),
        required=False,
        max_length=254,
        help_text=_("For example the person's name or email, so you can tell links apart."),
    )

    def clean_sent_to(self) -> str:
        return clean_text(self.cleaned_data["sent_to"])


MAX_NOTE = 1000


class SendForm(forms.Form):
    """Dashboard: confirm sending a document from its email preview, with an optional note.

    ``last_sent`` is when the document was last sent as the preview saw it
    (``portal.services.sent_stamp``): sending checks it, so one preview sends once."""

    note = forms.CharField(
        label=_("Personal note"),
        required=False,
        max_length=MAX_NOTE,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Plain text, up to 1,000 characters. It appears in the email right here."),
        error_messages={
            "max_length": _(
                "Keep the note to %(limit_value)d characters or fewer (it has %(show_value)d)."
            )
        },
    )
    last_sent = forms.RegexField(
        regex=r"^[0-9]{1,20}$",
        widget=forms.HiddenInput,
        error_messages={
            "required": _("Check the email below, then press Send."),
            "invalid": _("Check the email below, then press Send."),
        },
    )

    # Who gets it. A post without the list (a client older than contacts) means the primary
    # contact; the dialog marks that it showed the list, so unticking everyone is refused.
    contacts = forms.MultipleChoiceField(
        label=_("Send to"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": _("Choose among the customer's contacts.")},
    )
    contacts_shown = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, contacts=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.contact_rows = list(contacts)
        self.fields["contacts"].choices = [(c.public_id, c.name) for c in self.contact_rows]
        if not self.is_bound:
            chosen = [c.public_id for c in self.contact_rows if c.is_primary]
            self.initial.setdefault("contacts", chosen or [c.public_id for c in self.contact_rows])

    def clean_note(self) -> str:
        return clean_text(self.cleaned_data["note"], multiline=True)

    def clean(self) -> dict:
        data = super().clean()
        chosen = set(data.get("contacts") or ())
        if not chosen and "contacts" not in self.errors:
            if data.get("contacts_shown") and self.contact_rows:
                self.add_error("contacts", _("Choose who gets it: at least one contact."))
                return data
            chosen = {c.public_id for c in self.contact_rows if c.is_primary}
        data["contacts"] = [c for c in self.contact_rows if c.public_id in chosen] or None
        data.pop("contacts_shown", None)
        return data


class LinkExtendForm(forms.Form):
    """Dashboard: keep a link working longer, by some days (the "+90 days" button) or until
    a date."""

    days = forms.IntegerField(
        label=_("Days to add"),
        required=False,
        min_value=1,
        max_value=3650,
        error_messages={
            "invalid": _("Enter a number of days, like 90."),
            "min_value": _("Add at least one day."),
            "max_value": _("Add at most 3650 days."),
        },
    )
    until = forms.DateField(
        label=_("Keep working until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": _("Enter a date like 2027-03-31.")},
    )

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        if data.get("days") is None and data.get("until") is None:
            raise ValidationError(_("Choose a date, or press “+90 days”."), code="empty")
        if data.get("days") is not None and data.get("until") is not None:
            raise ValidationError(_("Choose either some days or a date, not both."), code="both")
        return data

    def until_moment(self, *, planned: dt.datetime | None, now: dt.datetime) -> dt.datetime:
        """The moment the link should work until: the end of the chosen day (in the current
        time zone, the company's), or ``days`` after the later of now and the link's planned
        expiry."""
        days = self.cleaned_data.get("days")
        if days is not None:
            return max(now, planned or now) + dt.timedelta(days=days)
        day = self.cleaned_data["until"]
        return timezone.make_aware(dt.datetime.combine(day, dt.time.max))

    def first_error(self) -> str:
        for errors in self.errors.values():
            return str(errors[0])
        return ""
