from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from billing.quickbooks.taxes import tax_keys


class TaxMappingForm(forms.Form):
    """One select per tax situation, listing the company's QuickBooks tax codes."""

    def __init__(
        self, *args: Any, codes: list[dict[str, Any]], initial_map: dict[str, str], **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        choices = [("", _("— Not chosen —"))] + [
            (
                str(code["id"]),
                f"{code['name']}"
                + (
                    f" ({', '.join(r + '%' for r in code['rates'] if r)})"
                    if code.get("rates")
                    else ""
                ),
            )
            for code in codes
        ]
        for key, label in tax_keys():
            self.fields[key] = forms.ChoiceField(
                label=label, choices=choices, required=False, initial=initial_map.get(key, "")
            )


class MatchForm(forms.Form):
    choice = forms.ChoiceField(
        label=_("Which QuickBooks customer is it?"), widget=forms.RadioSelect
    )

    def __init__(self, *args: Any, candidates: list[dict[str, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        field = self.fields["choice"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [
            (
                c["id"],
                f"{c['name']}" + (f" <{c['email']}>" if c.get("email") else "") + f" · #{c['id']}",
            )
            for c in candidates
        ] + [("new", _("None of these: create a new customer in QuickBooks"))]
