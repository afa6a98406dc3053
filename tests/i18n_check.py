"""What a customer reads must be in French too: the lists of customer-facing templates and
Python modules, and the checks ``tests/test_translations.py`` runs on them (also usable from a
shell: ``DJANGO_SETTINGS_MODULE=crewcommand.settings python -m tests.i18n_check``).

Two checks:

- ``unmarked_text``: a text node of a customer-facing template that holds a word outside
  ``{% translate %}`` / ``{% blocktranslate %}`` (a heuristic: tags, comments, variables,
  ``<script>``/``<style>`` and attribute values other than ``alt``/``title``/``placeholder``/
  ``aria-label`` are skipped; ``ALLOWED_WORDS`` lists the few words that are not language, such
  as a product name);
- ``catalogue_problems``: a string those templates or modules mark that the fr-CA catalogue
  lacks, leaves untranslated or marks fuzzy.

Strings are found as ``makemessages`` finds them: templates through Django's ``templatize``,
then Babel's Python extractor with Django's keywords.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "locale" / "fr_CA" / "LC_MESSAGES" / "django.po"
COMPILED = CATALOGUE.with_suffix(".mo")

CUSTOMER_TEMPLATES = (
    "templates/base.html",
    "templates/400.html",
    "templates/403.html",
    "templates/404.html",
    "templates/429.html",
    "templates/500.html",
    "templates/503.html",
    "templates/layouts/portal.html",
    "templates/layouts/public.html",
    "templates/components/badge.html",
    "templates/components/company_contact.html",
    "templates/components/company_header.html",
    "templates/components/field.html",
    "templates/components/form.html",
    "templates/components/toast.html",
    "templates/components/toasts.html",
    "templates/portal/home.html",
    "templates/portal/estimate.html",
    "templates/portal/invoice.html",
    "templates/portal/answer.html",
    "templates/portal/dead_link.html",
    "templates/portal/invalid.html",
    "templates/portal/_status_badge.html",
    "templates/portal/_code_status.html",
    "templates/portal/_step_up.html",
    "templates/portal/code_error.html",
    "templates/billing/_portal_*.html",
    "templates/billing/portal_pay*.html",
    "templates/booking/_layout.html",
    "templates/booking/_portal_home_request.html",
    "templates/booking/_request_fields.html",
    "templates/booking/book.html",
    "templates/booking/portal_request.html",
    "templates/booking/portal_sent.html",
    "templates/booking/sent.html",
    "templates/reviews/landing.html",
    "templates/reviews/feedback.html",
    "templates/documents/pdf/*.html",
    "templates/emails/base.html",
    "templates/emails/booking_received.*",
    "templates/emails/portal_link.*",
    "templates/emails/portal_code.*",
    "templates/emails/receipt.*",
    "templates/emails/refund_notice.*",
    "templates/emails/review_request.*",
    "templates/messaging/commercial_footer.*",
    "templates/messaging/unsubscribe.html",
)

# Modules whose marked strings reach customers (pages, forms and their errors, emails, PDFs).
CUSTOMER_MODULES = (
    "portal/views_portal.py",
    "portal/forms.py",
    "portal/services.py",
    "portal/selectors.py",
    "portal/stepup.py",
    "portal/notifications.py",
    "billing/views_portal.py",
    "billing/views_public.py",
    "billing/notifications.py",
    "billing/services/checkout.py",
    "booking/views_portal.py",
    "booking/views_public.py",
    "booking/forms.py",
    "booking/notifications.py",
    "reviews/views_public.py",
    "reviews/forms.py",
    "documents/pdf.py",
    "documents/totals.py",
    "crewcommand/templatetags/money.py",
    "automations/formats.py",
)

# Choices whose labels customers read (statuses, payment methods, time windows, languages):
# "module:Class" names, checked like the marked strings.
CUSTOMER_CHOICES = (
    "crewcommand.models:Language",
    "documents.models:EstimateStatus",
    "documents.models:InvoiceStatus",
    "documents.models:PaymentTerms",
    "billing.models:PaymentMethod",
    "billing.models:PaymentStatus",
    "booking.models:Window",
)

# Not words of a language: names, symbols and units shown as they are in both languages.
ALLOWED_WORDS = {
    "CrewCommand",
    "SHA-256",
    "UTC",
    "PDF",
    "Stripe",
    "Google",
    "CAD",
    "English",
    "Français",
}

KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "gettext_noop": None,
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2),
    "pgettext_lazy": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "npgettext_lazy": ((1, "c"), 2, 3),
}


def customer_templates() -> list[Path]:
    found: list[Path] = []
    for pattern in CUSTOMER_TEMPLATES:
        matches = sorted(ROOT.glob(pattern))
        if not matches:
            raise FileNotFoundError(pattern)
        found.extend(matches)
    return found


@dataclass(frozen=True)
class Marked:
    msgid: str
    context: str | None
    where: str


def _extract(source: str, where: str) -> Iterator[Marked]:
    from babel.messages.extract import extract_python

    for _line, func, message, _comments in extract_python(
        io.BytesIO(source.encode("utf-8")), KEYWORDS, [], {}
    ):
        # Babel gives every argument of a call (None where not a string literal).
        args = message if isinstance(message, tuple) else (message,)
        context = None
        if func.startswith(("pgettext", "npgettext")):
            context, args = args[0], args[1:]
        msgid = args[0] if args else None
        if isinstance(msgid, str) and msgid:
            yield Marked(msgid, context, where)


def marked_strings() -> list[Marked]:
    """Every string the customer-facing templates and modules mark for translation."""
    from django.utils.translation.template import templatize

    found: list[Marked] = []
    for path in customer_templates():
        # templatize blanks everything but the translation calls out (to X and B); Python's
        # tokenizer then only needs the lines unindented.
        code = templatize(path.read_text("utf-8"), origin=str(path))
        code = "\n".join(line.lstrip() for line in code.splitlines())
        found.extend(_extract(code, _rel(path)))
    for name in CUSTOMER_MODULES:
        path = ROOT / name
        found.extend(_extract(path.read_text("utf-8"), name))
    found.extend(_choice_labels())
    return found


def _choice_labels() -> Iterator[Marked]:
    import importlib

    for name in CUSTOMER_CHOICES:
        module, cls = name.split(":")
        choices = getattr(importlib.import_module(module), cls)
        for _value, label in choices.choices:
            msgid = getattr(label, "_proxy____args", (str(label),))[0]
            yield Marked(msgid, None, name)


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def catalogue_problems() -> list[str]:
    """Marked customer strings that the fr-CA catalogue lacks, leaves empty or marks fuzzy."""
    from babel.messages.pofile import read_po

    with CATALOGUE.open("rb") as handle:
        catalogue = read_po(handle)
    problems = []
    seen = set()
    for marked in marked_strings():
        key = (marked.msgid, marked.context)
        if key in seen:
            continue
        seen.add(key)
        message = catalogue.get(marked.msgid, context=marked.context)
        if message is None:
            problems.append(f"missing: {marked.msgid!r} ({marked.where})")
        elif message.fuzzy:
            problems.append(f"fuzzy: {marked.msgid!r} ({marked.where})")
        elif not all(message.string) if isinstance(message.string, tuple) else not message.string:
            problems.append(f"untranslated: {marked.msgid!r} ({marked.where})")
    return problems


# Blocks whose content is a class name, not text.
_CLASS_BLOCK = re.compile(r"{%\s*block\s+\w*class\s*%}.*?{%\s*endblock", re.DOTALL)
_TAG = re.compile(r"{%.*?%}|{{.*?}}|{#.*?#}", re.DOTALL)
_BLOCK = re.compile(
    r"{%\s*(blocktranslate|blocktrans|comment)\b.*?%}.*?{%\s*end(blocktranslate|blocktrans|comment)\s*%}",
    re.DOTALL,
)
_WORD = re.compile(r"[^\W\d_][\w'\u2019.-]*")
_READ_ATTRIBUTES = {"alt", "title", "placeholder", "aria-label"}


class _TextNodes(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        self.texts.extend(value for name, value in attrs if name in _READ_ATTRIBUTES and value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.texts.append(data)


def unmarked_words(source: str, *, html: bool = True) -> list[str]:
    """The words of a template's text outside translation tags (and outside markup)."""
    text = _CLASS_BLOCK.sub(" ", source)
    text = _BLOCK.sub(" ", text)
    text = _TAG.sub(" ", text)
    if html:
        parser = _TextNodes()
        parser.feed(text)
        parser.close()
        chunks: Iterable[str] = parser.texts
    else:
        chunks = [text]
    words = []
    for chunk in chunks:
        for word in _WORD.findall(chunk):
            if word.strip(".-'\u2019") and word.strip(".") not in ALLOWED_WORDS:
                words.append(word)
    return words


def unmarked_text() -> list[str]:
    problems = []
    for path in customer_templates():
        words = unmarked_words(path.read_text("utf-8"), html=path.suffix == ".html")
        if words:
            problems.append(f"{_rel(path)}: {' '.join(words[:12])}")
    return problems


if __name__ == "__main__":  # pragma: no cover
    import django

    django.setup()
    for line in [*unmarked_text(), *catalogue_problems()]:
        print(line)
