"""CrewCommand's tax situations and the QuickBooks tax code each one uses.

A line's situation is its invoice's province and the taxes that apply to it: ``ON:all``,
``QC:federal`` (GST only), ``BC:provincial`` (PST only) or ``exempt``. Defaults are found by
QuickBooks' usual Canadian code names; an explicit ``TaxMapping`` row wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.translation import gettext as _

from documents.models import LineItem, TaxParts
from documents.tax import PROVINCES, part_names

EXEMPT = "exempt"
_HST_NAMES = {"ON": "HST ON", "NB": "HST NB", "NL": "HST NL", "NS": "HST NS", "PE": "HST PE"}
_COMBINED = {
    "BC": (["GST/PST BC"], ["PST BC"]),
    "MB": (["GST/RST MB", "GST/PST MB"], ["RST MB", "PST MB"]),
    "QC": (["GST/QST QC"], ["QST QC"]),
    "SK": (["GST/PST SK"], ["PST SK"]),
}


def _has_provincial(province: str) -> bool:
    return "provincial" in part_names(province)


def tax_keys() -> list[tuple[str, str]]:
    """Every situation, with a label for the mapping screen, in a stable order."""
    keys: list[tuple[str, str]] = []
    for province in sorted(PROVINCES):
        names = part_names(province)
        if _has_provincial(province):
            both = f"{names['federal']} + {names['provincial']}"
            keys.append((f"{province}:all", f"{province} — {both}"))
            keys.append((f"{province}:federal", f"{province} — {names['federal']} {_('only')}"))
            keys.append(
                (f"{province}:provincial", f"{province} — {names['provincial']} {_('only')}")
            )
        else:
            keys.append((f"{province}:all", f"{province} — {names['federal']}"))
    keys.append((EXEMPT, _("No tax (exempt)")))
    return keys


def key_for(*, province: str, line: LineItem) -> str:
    if not line.taxable:
        return EXEMPT
    if line.tax_parts == TaxParts.ALL or not _has_provincial(province):
        if line.tax_parts == TaxParts.PROVINCIAL:
            return EXEMPT  # an HST/GST-only province has no provincial tax to apply
        return f"{province}:all"
    return f"{province}:{line.tax_parts}"


def _candidates(key: str) -> list[str]:
    if key == EXEMPT:
        return ["Exempt", "Zero-rated", "Out of Scope"]
    province, part = key.split(":")
    if province in _HST_NAMES:
        return [_HST_NAMES[province]]
    if province not in _COMBINED:
        return ["GST"]
    combined, provincial = _COMBINED[province]
    return {"all": combined, "federal": ["GST"], "provincial": provincial}[part]


def default_code(key: str, codes: Iterable[Mapping[str, Any]]) -> str:
    by_name = {str(code["name"]).casefold(): str(code["id"]) for code in codes}
    for name in _candidates(key):
        if name.casefold() in by_name:
            return by_name[name.casefold()]
    return ""


def effective_mapping(codes: list[dict[str, Any]], chosen: Mapping[str, str]) -> dict[str, str]:
    """Key -> QuickBooks tax code id ("" when none is chosen and no default fits)."""
    return {key: chosen.get(key) or default_code(key, codes) for key, _label in tax_keys()}
