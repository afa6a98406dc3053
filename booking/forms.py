"""Forms: the request form (public page and portal), converting and dismissing a request, and
the company's booking settings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from booking.models import BookingSettings, Window
from booking.photos import MAX_PHOTO_BYTES, MAX_PHOTOS, PhotoError, normalise_photo
from booking.selectors import BookingPage
from crewcommand.forms import PhoneField, SingleLineCharField

OTHER = "other"
NEW_CUSTOMER = "new"
HONEYPOT = "website"


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Up to ``MAX_PHOTOS`` pictures, each checked by its content (``booking.photos``); cleans
    to a list of ``(jpeg_bytes, width, height)``."""

    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[tuple[bytes, int, int]]:
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if len(files) > MAX_PHOTOS:
            raise forms.ValidationError(
                _("Attach at most %(count)d photos.") % {"count": MAX_PHOTOS}, code="too_many"
            )
        photos = []
        for upload in files:
            if not isinstance(upload, UploadedFile):
                raise forms.ValidationError(_("Attach photos as files."), code="invalid")
            try:
                photos.append(normalise_photo(upload, size=upload.size))
            except PhotoError as error:
                if error.code == "too_large":
                    message = _("“%(name)s” is too large: photos can be up to %(mb)d MB.")
                else:
                    message = _(
                        "“%(name)s” is not a photo: attach JPEG, PNG, GIF or WebP pictures."
                    )
                name = str(upload.name or "")[:60]
                raise forms.ValidationError(
                    message % {"name": name, "mb": MAX_PHOTO_BYTES // (1024 * 1024)},
                    code=error.code,
                ) from None
        return photos


class RequestForm(forms.Form):
    """A request for service. ``page`` gives the services, days and windows offered;
    ``addresses`` (portal only) the customer's known addresses to choose from."""

    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )
    name = SingleLineCharField(
        label=_("Your name"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    phone = PhoneField(label=_("Phone"), max_length=40)
    email = forms.EmailField(
        label=_("Email"),
        required=False,
        max_length=254,
        help_text=_("We'll send your confirmation here."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    address_choice = forms.ChoiceField(
        label=_("Where is the work?"), required=False, widget=forms.RadioSelect
    )
    address = SingleLineCharField(
        label=_("Service address"),
        max_length=300,
        required=False,
        help_text=_("Street, city and postal code."),
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )
    service = forms.ChoiceField(label=_("Service"))
    description = forms.CharField(
        label=_("Tell us more"),
        required=False,
        max_length=4000,
        help_text=_("What's happening, since when, anything we should know before we come."),
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    first_date = forms.ChoiceField(label=_("Preferred day"), required=False)
    first_window = forms.ChoiceField(label=_("Preferred time"), required=False)
    second_date = forms.ChoiceField(label=_("Another day that works"), required=False)
    second_window = forms.ChoiceField(label=_("Time on that day"), required=False)
    photos = PhotosField(
        label=_("Photos"),
        required=False,
        help_text=_("Up to %(count)d pictures, %(mb)d MB each.")
        % {"count": MAX_PHOTOS, "mb": MAX_PHOTO_BYTES // (1024 * 1024)},
    )
    marketing_email = forms.BooleanField(
        label=_("Email me tips and offers"), required=False, initial=False
    )
    marketing_sms = forms.BooleanField(
        label=_("Text me tips and offers"), required=False, initial=False
    )

    def __init__(
        self,
        *args: Any,
        page: BookingPage,
        today: dt.date,
        addresses: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.page = page
        services = [(s, s) for s in page.services]
        self.fields["service"].choices = [
            ("", _("Choose a service")),
            *services,
            (OTHER, _("Something else")),
        ]
        days = [("", _("I'm flexible"))] + [
            (d.isoformat(), date_format(d, "l, F j")) for d in page.days(today)
        ]
        windows = [("", _("Any time")), *[(k, v) for k, v in page.windows if k != Window.ANY]]
        for name in ("first_date", "second_date"):
            self.fields[name].choices = days
        for name in ("first_window", "second_window"):
            self.fields[name].choices = windows
        self.addresses = addresses or []
        if self.addresses:
            self.fields["address_choice"].choices = [
                *[(str(i), a) for i, a in enumerate(self.addresses)],
                (OTHER, _("Another address")),
            ]
            self.fields["address_choice"].initial = "0"
            self.fields["address"].label = _("Other address")
        else:
            del self.fields["address_choice"]
            self.fields["address"].required = True
        if addresses is not None:
            del self.fields["website"]  # the portal's link is its own proof of a person

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.addresses and "address_choice" in data:
            choice = data.get("address_choice") or ""
            if choice.isdigit() and int(choice) < len(self.addresses):
                data["address"] = self.addresses[int(choice)]
            elif not data.get("address"):
                self.add_error("address", _("Enter the address where the work is."))
        if data.get("service") == OTHER and not (data.get("description") or "").strip():
            self.add_error("description", _("Tell us what you need."))
        return data

    @property
    def is_spam(self) -> bool:
        """The honeypot, a field people never see, was filled: a bot."""
        return bool(self.data.get(HONEYPOT))

    def preferred(self) -> list[dict[str, str]]:
        found = []
        for prefix in ("first", "second"):
            day = self.cleaned_data.get(f"{prefix}_date") or ""
            window = self.cleaned_data.get(f"{prefix}_window") or Window.ANY
            if day:
                entry = {"date": day, "window": window}
                if entry not in found:
                    found.append(entry)
        return found

    def service_name(self) -> str:
        service = self.cleaned_data["service"]
        return str(_("Other")) if service == OTHER else service


class ConvertForm(forms.Form):
    """Which customer the job is for: one of the matches, or a new customer."""

    customer = forms.ChoiceField(label=_("Customer"), widget=forms.RadioSelect)
    title = SingleLineCharField(label=_("Job title"), max_length=200)

    def __init__(self, *args: Any, matches: list, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [
            (c.public_id, f"{c.name} · {c.email or c.phone or c.address}".strip(" ·"))
            for c in matches
        ]
        choices.append((NEW_CUSTOMER, _("Create a new customer from this request")))
        self.fields["customer"].choices = choices
        self.fields["customer"].initial = matches[0].public_id if len(matches) == 1 else None
        if not matches:
            self.fields["customer"].initial = NEW_CUSTOMER


class DismissForm(forms.Form):
    reason = SingleLineCharField(
        label=_("Why dismiss it?"),
        max_length=300,
        help_text=_("For your team, e.g. “Outside our area” or “Spam”. The requester isn't told."),
    )


DAY_CHOICES = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]


class BookingSettingsForm(forms.ModelForm):
    open_days = forms.TypedMultipleChoiceField(
        label=_("Days you work"),
        choices=DAY_CHOICES,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = BookingSettings
        fields = ["enabled", "intro", "services", "open_days", "opens_at", "closes_at"]
        field_classes = {"intro": SingleLineCharField}
        widgets = {
            "services": forms.Textarea(attrs={"rows": 6}),
            "opens_at": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "closes_at": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    def clean_services(self) -> str:
        lines = [line.strip()[:100] for line in self.cleaned_data["services"].splitlines()]
        lines = [line for line in lines if line and "\x00" not in line]
        if len(lines) > 30:
            raise forms.ValidationError(_("List at most 30 services."))
        return "\n".join(dict.fromkeys(lines))
