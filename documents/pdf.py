"""PDFs of estimates and invoices, rendered by WeasyPrint from templates/documents/pdf/.

Rules this module keeps:

- Every amount comes from ``documents.totals`` (the same ``Totals`` the pages and Stripe use), so
  the PDF's total is ``revision_totals(revision, selection).total`` to the cent.
- Rendering never touches the network: ``LocalFetcher`` serves only the company's own logo and
  files under the static directories, plus image ``data:`` URLs; everything else is refused.
- Nothing company-specific is cached between renders; WeasyPrint is imported on first use, so
  importing this module (views do) costs nothing at start-up.

The views call ``render_estimate_pdf`` / ``render_invoice_pdf`` (ideally from a task, as a cold
render takes about a second) and name the download with ``pdf_filename``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import functools
import gc
import hashlib
import io
import json
import logging
import mimetypes
import re
import ssl
import threading
import zoneinfo
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote, unquote_to_bytes, urlsplit
from urllib.request import url2pathname

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from crewcommand.lib.canada import display_phone
from crewcommand.lib.colour import DEFAULT_ACCENT, accent_on_white, is_hex_colour
from crewcommand.lib.images import logo_fits
from crewcommand.lib.money import active_locale, format_cad
from crewcommand.models import Company
from crewcommand.templatetags.money import tax_label
from documents.models import (
    DepositKind,
    Estimate,
    EstimateRevision,
    Invoice,
    InvoiceStatus,
    LineItem,
    LineKind,
    TaxParts,
)
from documents.tax import TaxLine, Totals, line_amount
from documents.totals import (
    Selection,
    default_selection,
    deposit_amount,
    invoice_totals,
    is_selected,
    line_tax_note,
    revision_totals,
    selected_lines,
    tax_split_note,
    validate_selection,
)

__all__ = [
    "pdf_filename",
    "render_estimate_pdf",
    "render_invoice_pdf",
    "render_signed_estimate_pdf",
]

logger = logging.getLogger(__name__)

STYLESHEET = "css/pdf.css"
_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml"})
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_SIGNATURE_SVG = 512 * 1024
_PNG_DATA_URL = re.compile(r"^data:image/png;base64,([A-Za-z0-9+/=\s]+)$")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# --- Public API ----------------------------------------------------------------------------------


def render_estimate_pdf(
    *,
    estimate: Estimate,
    revision: EstimateRevision | None = None,
    selection: Selection | None = None,
    certificate: dict[str, Any] | None = None,
) -> bytes:
    """The estimate as a PDF: ``revision`` (default the current one) with the lines of
    ``selection`` (validated; default selection when None) in the totals, unchosen options listed
    apart, and, given a ``certificate`` dict, a final certificate-of-signature page.

    A sent revision never changes, so its PDF is rendered once and then served from the cache
    (see ``_cached``); drafts are always rendered fresh."""
    revision = revision or estimate.current_revision
    if revision is None or revision.estimate_id != estimate.pk:
        raise ValueError("the revision does not belong to this estimate")

    def render() -> bytes:
        return _render_estimate(estimate, revision, selection, certificate)

    with translation.override(document_language(estimate)):
        return _render_estimate_cached(estimate, revision, selection, certificate, render)


def document_language(document: Estimate | Invoice) -> str:
    """A customer's documents are in the customer's language (their choice, else their
    company's default), wherever the PDF is made (portal, dashboard, email, worker)."""
    return document.customer.language or document.company.default_language


def _render_estimate_cached(
    estimate: Estimate,
    revision: EstimateRevision,
    selection: Selection | None,
    certificate: dict[str, Any] | None,
    render: Callable[[], bytes],
) -> bytes:
    if not revision.is_frozen:
        return render()
    key = [
        "estimate-revision",
        revision.pk,
        estimate.status,
        json.dumps(selection.as_json() if selection else None, sort_keys=True),
        (certificate or {}).get("sha256", ""),
        _fingerprint(estimate.company, estimate.customer, estimate.job),
    ]
    return _cached(key, render)


def _render_estimate(
    estimate: Estimate,
    revision: EstimateRevision,
    selection: Selection | None,
    certificate: dict[str, Any] | None,
) -> bytes:
    lines = list(revision.lines.all())
    chosen = default_selection(lines) if selection is None else validate_selection(lines, selection)
    totals = revision_totals(revision, chosen, lines=lines)
    company = estimate.company
    page = _Page.for_company(company)
    context = {
        **page.context(estimate.display_number, _revision_label(revision.number)),
        "estimate": estimate,
        "revision": revision,
        "customer": estimate.customer,
        "job": estimate.job,
        "rows": _rows(
            selected_lines(lines, chosen),
            totals.line_amounts,
            chosen,
            page.locale,
            revision.province,
        ),
        "not_chosen": _not_chosen_rows(lines, chosen, page.locale),
        "totals": _totals_context(totals, page.locale),
        "deposit": _deposit_context(revision, totals, page.locale),
        "certificate": (
            _certificate_context(certificate, company, revision.number) if certificate else None
        ),
    }
    return page.write("documents/pdf/estimate.html", context)


def render_signed_estimate_pdf(
    *, estimate: Estimate, snapshot: dict[str, Any], certificate: dict[str, Any]
) -> bytes:
    """The signed estimate rendered from the snapshot stored at signing (format
    ``crewcommand.estimate.v2``, written by ``portal.canonical``), never from the live rows:
    company name, address and tax numbers, the customer, the job, every line, option, total,
    deposit, notes and terms are as the customer saw them, whatever was edited since. Only the
    branding (logo, colour) comes from the company as it is now.

    Cached under the snapshot, the certificate and the branding, which is all it shows."""
    company = estimate.company
    key = [
        "estimate-signed",
        estimate.pk,
        hashlib.sha256(json.dumps(snapshot, sort_keys=True).encode()).hexdigest(),
        hashlib.sha256(json.dumps(certificate, sort_keys=True, default=str).encode()).hexdigest(),
        company.logo.name if company.logo else "",
        company.brand_color,
    ]
    # In the language the customer signed in: recorded in the snapshot since format v3; before
    # it, every page was English.
    with translation.override(snapshot.get("language") or settings.LANGUAGE_CODE):
        return _cached(key, lambda: _render_snapshot(company, snapshot, certificate))


def _render_snapshot(company: Company, snapshot: dict[str, Any], certificate: dict) -> bytes:
    shown = SimpleNamespace(**snapshot["company"])
    revision = SimpleNamespace(
        **{key: snapshot["revision"].get(key) for key in ("number", "notes", "terms")},
        issue_date=_iso_date(snapshot["revision"].get("issue_date")),
        valid_until=_iso_date(snapshot["revision"].get("valid_until")),
    )
    lines = [_snapshot_line(line) for line in snapshot["lines"]]
    totals = _snapshot_totals(snapshot["totals"])
    page = _Page.for_company(company)
    chosen = Selection()  # any selection: the lines already say which were chosen
    context = {
        **page.context(snapshot["estimate"]["number"], _revision_label(revision.number)),
        "company": shown,
        "company_lines": _company_lines(shown),
        "tax_numbers": _tax_numbers(shown),
        "estimate": SimpleNamespace(display_number=snapshot["estimate"]["number"]),
        "revision": revision,
        "customer": SimpleNamespace(**snapshot["customer"]),
        "job": SimpleNamespace(**snapshot["job"]) if snapshot.get("job") else None,
        "rows": _rows(
            [line for line in lines if line.selected],
            totals.line_amounts,
            chosen,
            page.locale,
            snapshot["revision"]["province"],
        ),
        "not_chosen": [
            _row(line, line.amount, _other_option_notes(line), page.locale)
            for line in lines
            if not line.selected
        ],
        "totals": _totals_context(totals, page.locale),
        "deposit": _snapshot_deposit(snapshot["deposit"], page.locale),
        "certificate": _certificate_context(certificate, shown, revision.number),
    }
    return page.write("documents/pdf/estimate.html", context)


def _iso_date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _snapshot_line(line: dict[str, Any]) -> SimpleNamespace:
    return SimpleNamespace(
        description=line["description"],
        quantity=Decimal(line["quantity"]),
        unit_price=Decimal(line["unit_price"]),
        amount=Decimal(line["amount"]),
        taxable=bool(line["taxable"]),
        # Snapshots signed before per-tax exemption have no key: every tax (or none) applied.
        tax_parts=line.get("tax_parts", TaxParts.ALL),
        kind=line["kind"],
        group=line["group"],
        selected=bool(line["selected"]),
    )


def _snapshot_totals(data: dict[str, Any]) -> Totals:
    return Totals(
        line_amounts=tuple(Decimal(amount) for amount in data["line_amounts"]),
        subtotal=Decimal(data["subtotal"]),
        taxable_subtotal=Decimal(data["taxable_subtotal"]),
        taxes=tuple(
            TaxLine(
                code=tax["code"],
                label=tax["label"],
                rate=Decimal(tax["rate"]),
                base=Decimal(tax["base"]),
                amount=Decimal(tax["amount"]),
            )
            for tax in data["taxes"]
        ),
        tax_total=Decimal(data["tax_total"]),
        total=Decimal(data["total"]),
    )


def _snapshot_deposit(data: dict[str, Any], locale: str) -> dict | None:
    amount = Decimal(data["amount"])
    if not amount:
        return None
    return {
        "label": _deposit_label(data["kind"], Decimal(data["value"]), locale),
        "amount": format_cad(amount, locale),
    }


def render_invoice_pdf(*, invoice: Invoice) -> bytes:
    """The invoice as a PDF: lines, taxes, total, deposit credit, payments and the balance due,
    with a PAID stamp once paid and a VOID watermark when void.

    A sent invoice's lines never change and every payment bumps ``updated_at``, so its PDF is
    stored under that timestamp (and whether it is overdue), see ``_cached``."""
    with translation.override(document_language(invoice)):
        return _render_invoice_cached(invoice)


def _render_invoice_cached(invoice: Invoice) -> bytes:
    if invoice.status == InvoiceStatus.DRAFT:
        return _render_invoice(invoice)
    key = [
        "invoice",
        invoice.pk,
        invoice.updated_at.isoformat(),
        # What the date changes on the page: the "Overdue" stamp (not the date itself, so a
        # stored PDF stays valid from one day to the next).
        invoice.is_overdue,
        _fingerprint(invoice.company, invoice.customer, invoice.job),
    ]
    return _cached(key, lambda: _render_invoice(invoice))


def _fingerprint(*rows: Any) -> str:
    """What else a PDF shows: the company's branding and contact, the customer, the job."""
    fields = []
    for row in rows:
        if row is not None:
            fields.extend((f.name, str(getattr(row, f.attname))) for f in row._meta.concrete_fields)
    return hashlib.sha256(repr(fields).encode()).hexdigest()[:32]


def stored_name(key: list[Any]) -> str:
    """Where a rendered PDF is kept in the default storage: under its document (an invoice, an
    estimate's revision, a signed estimate: kind and id), its language, and a digest of everything it shows (the key: revision or ``updated_at``,
    selection, certificate, company, customer, job, day)."""
    language = translation.get_language() or ""
    raw = json.dumps([*key, language], default=str)
    digest = hashlib.sha256(raw.encode()).hexdigest()[:40]
    return f"pdfs/{key[0]}-{key[1]}/{language or 'xx'}/{digest}.pdf"


def _cached(key: list[Any], render: Callable[[], bytes]) -> bytes:
    """Serve a rendered PDF from storage (``stored_name``), rendering and storing it on a miss.
    ``documents.tasks.warm_pdf`` stores it after Send and after a payment, so a customer's
    download reads a file; rendering here is the fallback (a file lost, a change no task
    followed). The key names everything the PDF shows, plus the language it is written in."""
    name = stored_name(key)
    try:
        with default_storage.open(name, "rb") as handle:
            return handle.read()
    except (FileNotFoundError, OSError):
        pass
    content = render()
    try:
        if not default_storage.exists(name):
            default_storage.save(name, ContentFile(content))
    except OSError:  # a read-only or full disk must not cost the customer their PDF
        logger.warning("could not store rendered PDF %s", name, exc_info=True)
    return content


def _render_invoice(invoice: Invoice) -> bytes:
    lines = list(invoice.lines.all())
    totals = invoice_totals(invoice, lines)
    if totals.total != invoice.total:
        # The cached total feeds Invoice.balance; services keep them equal. Say so if not.
        logger.warning("invoice %s: cached total differs from computed total", invoice.pk)
    page = _Page.for_company(invoice.company)
    money = functools.partial(format_cad, locale=page.locale)
    context = {
        **page.context(invoice.display_number, ""),
        "invoice": invoice,
        "customer": invoice.customer,
        "job": invoice.job,
        "rows": _rows(lines, totals.line_amounts, None, page.locale, invoice.province),
        "totals": _totals_context(totals, page.locale),
        "deposit_credit": money(invoice.deposit_credit) if invoice.deposit_credit else "",
        "amount_paid": money(invoice.amount_paid) if invoice.amount_paid else "",
        "balance": money(invoice.balance),
        "is_paid": invoice.status == InvoiceStatus.PAID,
        "is_void": invoice.status == InvoiceStatus.VOID,
        "is_overdue": invoice.is_overdue,
        "is_partially_paid": invoice.status == InvoiceStatus.PARTIALLY_PAID,
    }
    return page.write("documents/pdf/invoice.html", context)


def pdf_filename(doc: Estimate | EstimateRevision | Invoice) -> str:
    """``INV-0007.pdf``; estimates name their revision from the second on: ``EST-0001-r2.pdf``
    (an Estimate means its current revision)."""
    if isinstance(doc, Invoice):
        return f"{doc.display_number}.pdf"
    if isinstance(doc, EstimateRevision):
        estimate, number = doc.estimate, doc.number
    else:
        estimate = doc
        number = doc.current_revision.number if doc.current_revision_id else 1
    suffix = f"-r{number}" if number > 1 else ""
    return f"{estimate.display_number}{suffix}.pdf"


# --- The page: company letterhead, brand, fetcher, WeasyPrint ---------------------------------


@dataclass
class _Page:
    """What every document of one company shares: letterhead, brand colours, allowed files."""

    company: Company
    locale: str
    logo_src: str = ""
    allowed_files: list[Path] = field(default_factory=list)

    @classmethod
    def for_company(cls, company: Company) -> _Page:
        page = cls(company=company, locale=_money_locale())
        page.logo_src = page._logo_src()
        return page

    def _logo_src(self) -> str:
        """A file URL for a logo on local disk inside MEDIA_ROOT, a data URL for one in remote
        storage; empty (the name becomes a wordmark) when there is none, it is unreadable, or it
        is bigger than uploads are stored (a logo from before they were re-encoded: decoding a
        12,000-pixel one took seconds and most of a gigabyte per render)."""
        logo = self.company.logo
        if not logo:
            return ""
        try:
            path = Path(logo.path).resolve()
        except NotImplementedError:
            return _storage_data_url(logo)
        media = Path(settings.MEDIA_ROOT).resolve()
        if not path.is_file() or not path.is_relative_to(media):
            logger.warning("company %s: logo file missing or outside MEDIA_ROOT", self.company.pk)
            return ""
        with path.open("rb") as handle:
            if not logo_fits(handle):
                logger.warning("company %s: logo too large to render, skipped", self.company.pk)
                return ""
        self.allowed_files.append(path)
        return path.as_uri()

    def context(self, number: str, revision_label: str) -> dict[str, Any]:
        accent = accent_on_white(self.company.brand_color)
        return {
            "company": self.company,
            "company_lines": _company_lines(self.company),
            "tax_numbers": _tax_numbers(self.company),
            "logo_src": self.logo_src,
            "number": number,
            "revision_label": revision_label,
            "lang": translation.get_language() or settings.LANGUAGE_CODE,
            "page_css": _page_css(self.company.brand_color, accent),
        }

    def write(self, template: str, context: dict[str, Any]) -> bytes:
        html = render_to_string(template, context)
        return _html_to_pdf(html, files=self.allowed_files)


def _html_to_pdf(html: str, *, files: Iterable[Path] = ()) -> bytes:
    """Run WeasyPrint on ``html`` with the local-only fetcher and our print stylesheet."""
    from weasyprint import HTML

    fetcher = local_fetcher(files=files)
    with _gc_paused():
        document = HTML(string=html, base_url=None, url_fetcher=fetcher)
        return document.write_pdf(
            stylesheets=[_stylesheet(_stylesheet_text())],
            font_config=_font_config(),
            pdf_tags=True,
        )


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while WeasyPrint builds a document.

    A render allocates hundreds of thousands of short-lived objects (styles, boxes, text
    layouts), so the collector ran over and over, scanning the boxes the render still holds:
    about a tenth of a warm render's CPU. Reference counting still frees everything as usual;
    whatever cyclic garbage is left is collected by the next automatic run once the collector
    is back on. Counted under a lock so overlapping renders in threads turn it back on only
    when the last one ends, and only if it was on before the first."""
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


_thread_state = threading.local()


def _font_config() -> Any:
    """This thread's WeasyPrint ``FontConfiguration``, made on its first PDF and kept.

    WeasyPrint makes a new one per document when given none: fontconfig's configuration and
    font list loaded again and, above all, a new Pango font map, so every font, its HarfBuzz
    face and its glyph metrics are loaded and measured again on every render. Kept, a warm
    render skips all of that. It holds no company data: our stylesheets have no
    ``@font-face`` (only the installed DejaVu fonts are used), so it is the same for everyone.
    One per thread because a Pango font map is not safe to share between threads."""
    config = getattr(_thread_state, "font_config", None)
    if config is None:
        from weasyprint.text.fonts import FontConfiguration

        config = _thread_state.font_config = FontConfiguration()
    return config


@functools.lru_cache(maxsize=2)
def _stylesheet(text: str) -> Any:
    """The print stylesheet parsed once per process (per text: an edited file is parsed
    again). It is the same for every company (their colours come in the page's own
    ``<style>``) and fetches nothing (no ``url()``): the fetcher refuses everything."""
    from weasyprint import CSS

    return CSS(string=text, url_fetcher=local_fetcher(roots=()))


def warm_renderer() -> None:
    """Import WeasyPrint, load the fonts and parse the stylesheet now (a worker's start), so
    the first real PDF costs what every later one does."""
    try:
        _html_to_pdf(
            '<html lang="en"><body><p>CrewCommand <strong>$0.00</strong></p>'
            '<table class="lines"><tr><td class="num">1</td></tr></table></body></html>'
        )
    except Exception:  # never keep a worker from starting
        logger.warning("PDF renderer warm-up failed", exc_info=True)


def _stylesheet_text() -> str:
    """static/css/pdf.css, from the source tree or, failing that, from collected static files."""
    path = finders.find(STYLESHEET)
    if path is None and settings.STATIC_ROOT:
        path = Path(settings.STATIC_ROOT, STYLESHEET)
    if path is None or not Path(path).is_file():
        raise FileNotFoundError(STYLESHEET)
    return Path(path).read_text(encoding="utf-8")


def _static_roots() -> list[Path]:
    roots = [Path(p if isinstance(p, str | Path) else p[1]) for p in settings.STATICFILES_DIRS]
    if settings.STATIC_ROOT:
        roots.append(Path(settings.STATIC_ROOT))
    return [root.resolve() for root in roots]


def local_fetcher(*, files: Iterable[Path] = (), roots: Sequence[Path] | None = None) -> Any:
    """A WeasyPrint URL fetcher that never leaves the machine: it serves ``files`` (the company
    logo), files under ``roots`` (default: the static directories) and image ``data:`` URLs, and
    refuses every other URL (http, https, ftp, other files), recording it in ``.refused``."""
    cls = _fetcher_class()
    return cls(files=files, roots=_static_roots() if roots is None else roots)


@functools.cache
def _fetcher_class() -> type:
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class LocalFetcher(URLFetcher):
        def __init__(self, *, files: Iterable[Path], roots: Sequence[Path]) -> None:
            # ``fetch`` below never opens a connection, so the HTTPS handler WeasyPrint sets up
            # gets a context made once and trusting nothing, instead of a default context
            # loading the system's certificates on every render (about 10 ms each).
            super().__init__(
                allowed_protocols=("file", "data"),
                allow_redirects=False,
                ssl_context=_refusing_ssl_context(),
            )
            self.files = frozenset(Path(f).resolve() for f in files)
            self.roots = tuple(Path(r).resolve() for r in roots)
            self.refused: list[str] = []

        def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
            scheme = url.partition(":")[0].lower()
            if scheme == "data":
                mime, body = _decode_data_url(url)
                if mime in _IMAGE_TYPES and len(body) <= MAX_IMAGE_BYTES:
                    return URLFetcherResponse(url, body, {"Content-Type": mime})
            elif scheme == "file" and (path := self._allowed_path(url)) is not None:
                mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})
            self.refused.append(url[:200])
            raise ValueError(f"refused to fetch a {scheme or 'relative'} URL while rendering a PDF")

        def _allowed_path(self, url: str) -> Path | None:
            parts = urlsplit(url)
            if parts.netloc not in {"", "localhost"}:
                return None
            path = Path(url2pathname(unquote(parts.path))).resolve()
            inside = path in self.files or any(path.is_relative_to(r) for r in self.roots)
            return path if inside and path.is_file() else None

    return LocalFetcher


@functools.cache
def _refusing_ssl_context() -> ssl.SSLContext:
    """A client TLS context with no trusted certificates: any HTTPS request would fail."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _decode_data_url(url: str) -> tuple[str, bytes]:
    header, _sep, payload = url[5:].partition(",")
    params = header.split(";")
    mime = params[0].strip().lower() or "text/plain"
    try:
        if "base64" in (p.strip().lower() for p in params[1:]):
            return mime, base64.b64decode(payload, validate=False)
        return mime, unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        return "", b""


def _storage_data_url(logo: Any) -> str:
    """A logo kept in remote storage, read through the storage API and inlined."""
    mime = mimetypes.guess_type(logo.name)[0] or ""
    if mime not in _IMAGE_TYPES:
        return ""
    try:
        with logo.open("rb") as handle:
            data = handle.read(MAX_IMAGE_BYTES + 1)
    except OSError:
        return ""
    if len(data) > MAX_IMAGE_BYTES or not logo_fits(io.BytesIO(data)):
        return ""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


# --- Formatting ----------------------------------------------------------------------------------


def _money_locale() -> str:
    return active_locale()


def _plain_number(value: Decimal, locale: str) -> str:
    """Quantities and rates without trailing zeros: 1, 2.5, 9.975 (9,975 in French)."""
    text = format(value.normalize(), "f")
    return text.replace(".", ",") if locale == "fr-CA" else text


def _revision_label(number: int) -> str:
    return _("Revision %(number)s") % {"number": number} if number > 1 else ""


def _company_lines(company: Company) -> list[str]:
    city = " ".join(p for p in (company.city, company.province, company.postal_code) if p)
    contact = " · ".join(p for p in (display_phone(company.phone), company.email) if p)
    website = company.website.removeprefix("https://").removeprefix("http://").rstrip("/")
    return [line for line in (company.address_line1, city, contact, website) if line]


def _tax_numbers(company: Company) -> list[str]:
    numbers = []
    if company.gst_number:
        numbers.append(_("GST/HST no. %(number)s") % {"number": company.gst_number})
    if company.qst_number:
        numbers.append(_("QST no. %(number)s") % {"number": company.qst_number})
    return numbers


def _tax_label(tax: TaxLine, locale: str) -> str:
    rate = _plain_number(tax.rate, locale)
    if locale == "fr-CA":
        return f"{tax_label(tax)} {rate}\u00a0%"
    return f"{tax_label(tax)} {rate}%"


def _totals_context(totals: Totals, locale: str) -> dict[str, Any]:
    return {
        "subtotal": format_cad(totals.subtotal, locale),
        "taxes": [
            (_split_label(t, totals, locale), format_cad(t.amount, locale)) for t in totals.taxes
        ],
        "total": format_cad(totals.total, locale),
    }


def _split_label(tax: TaxLine, totals: Totals, locale: str) -> str:
    """The tax's label, with the part of the base it covers when split at the tax point."""
    label = _tax_label(tax, locale)
    note = tax_split_note(tax, totals, locale)
    return f"{label} {note}" if note else label


def _deposit_context(revision: EstimateRevision, totals: Totals, locale: str) -> dict | None:
    amount = deposit_amount(revision, totals.total)
    if not amount:
        return None
    label = _deposit_label(revision.deposit_kind, revision.deposit_value, locale)
    return {"label": label, "amount": format_cad(amount, locale)}


def _deposit_label(kind: str, value: Decimal, locale: str) -> str:
    if kind == DepositKind.PERCENT:
        percent = _plain_number(value, locale)
        return _("Deposit requested (%(percent)s%%)") % {"percent": percent}
    return _("Deposit requested")


# --- Lines ---------------------------------------------------------------------------------------


def _line_notes(
    line: LineItem | SimpleNamespace, chosen: Selection | None, province: str
) -> list[str]:
    notes = []
    if chosen is not None and line.kind == LineKind.OPTIONAL:
        notes.append(_("Optional add-on, selected"))
    elif chosen is not None and line.kind == LineKind.CHOICE:
        notes.append(_("%(package)s: selected option") % {"package": line.group})
    if note := line_tax_note(line.taxable, line.tax_parts, province):
        notes.append(note)
    return notes


def _row(
    line: LineItem | SimpleNamespace, amount: Decimal, notes: list[str], locale: str
) -> dict[str, Any]:
    return {
        "description": line.description,
        "quantity": _plain_number(line.quantity, locale),
        "unit_price": format_cad(line.unit_price, locale),
        "amount": format_cad(amount, locale),
        "notes": notes,
    }


def _rows(
    lines: Sequence[LineItem] | Sequence[SimpleNamespace],
    amounts: Sequence[Decimal],
    chosen: Selection | None,
    locale: str,
    province: str,
) -> list[dict[str, Any]]:
    """The priced lines, each with the amount ``Totals`` computed for it."""
    return [
        _row(line, amount, _line_notes(line, chosen, province), locale)
        for line, amount in zip(lines, amounts, strict=True)
    ]


def _not_chosen_rows(lines: Sequence[LineItem], chosen: Selection, locale: str) -> list[dict]:
    """Options the customer could add or switch to; shown apart, never in the totals."""
    rows = []
    for line in lines:
        if is_selected(line, chosen):
            continue
        amount = line_amount(line.as_line_in())
        rows.append(_row(line, amount, _other_option_notes(line), locale))
    return rows


def _other_option_notes(line: LineItem | SimpleNamespace) -> list[str]:
    if line.kind == LineKind.CHOICE:
        return [_("%(package)s: other option") % {"package": line.group}]
    return [_("Optional add-on")]


# --- Certificate of electronic signature -------------------------------------------------------


def _certificate_context(
    cert: dict[str, Any], company: Company | SimpleNamespace, revision_number: int
) -> dict[str, Any]:
    signed_at = cert["signed_at"]
    if timezone.is_naive(signed_at):
        raise ValueError("certificate signed_at must be an aware datetime")
    local = timezone.localtime(signed_at, zoneinfo.ZoneInfo(company.timezone))
    return {
        "signer_name": cert["signer_name"],
        "signed_at_local": _local_timestamp(local),
        "signed_at_utc": signed_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "ip": cert.get("ip") or "",
        "user_agent": cert.get("user_agent") or "",
        "link_reference": cert.get("link_reference") or "",
        "consent_text": cert.get("consent_text") or "",
        "language": _language_name(cert.get("language") or ""),
        "selection_summary": [str(item) for item in cert.get("selection_summary") or []],
        "sha256": cert["sha256"],
        "revision_number": cert.get("revision_number") or revision_number,
        "verify_hint": cert.get("verify_hint") or "",
        "signature_src": _signature_src(cert),
        "contact_name": cert.get("contact_name") or "",
        "step_up": _step_up(cert, company),
    }


STEP_UP_CHANNELS = {"sms": _lazy("text message (SMS)"), "email": _lazy("email")}


def _step_up(cert: dict[str, Any], company: Company | SimpleNamespace) -> str:
    """The certificate's line on the one-time code entered before signing ("" without one)."""
    channel = cert.get("step_up_channel") or ""
    verified_at = cert.get("step_up_verified_at")
    if not channel or verified_at is None:
        return ""
    local = timezone.localtime(verified_at, zoneinfo.ZoneInfo(company.timezone))
    return _("One-time code sent by %(channel)s, verified %(when)s") % {
        "channel": STEP_UP_CHANNELS.get(channel, channel),
        "when": _local_timestamp(local),
    }


LANGUAGE_NAMES = {"en-ca": _lazy("English"), "fr-ca": _lazy("French")}


def _language_name(code: str) -> str:
    """The name of the language the signer saw, as the certificate states it ("" if unknown)."""
    name = LANGUAGE_NAMES.get(code.lower())
    return f"{name} ({code})" if name else ""


def _local_timestamp(local: dt.datetime) -> str:
    """``4 Nov 2026, 3:02 p.m. EST (UTC-05:00)``: the company's wall clock and its offset."""
    offset = local.strftime("%z")
    return "{} {} (UTC{}:{})".format(
        formats.date_format(local, "DATETIME_FORMAT"), local.tzname(), offset[:3], offset[3:]
    )


def _signature_src(cert: dict[str, Any]) -> str:
    """The drawn signature as an image data URL (SVG or PNG), or "" if it is not a valid one.
    SVG goes in as an image, never inline markup, so it cannot inject into the page, and any
    URL inside it meets the same local-only fetcher."""
    svg = cert.get("signature_svg")
    if isinstance(svg, str) and svg.strip() and len(svg) <= MAX_SIGNATURE_SVG:
        head = svg.lstrip()[:200].lower()
        if head.startswith(("<svg", "<?xml")):
            return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")
    png = cert.get("signature_png_data_url")
    if isinstance(png, str) and (match := _PNG_DATA_URL.match(png.strip())):
        try:
            data = base64.b64decode(match[1], validate=False)
        except binascii.Error:
            return ""
        if data.startswith(_PNG_MAGIC) and len(data) <= MAX_IMAGE_BYTES:
            return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return ""


# --- Per-document CSS (brand colour, translated page numbers) ----------------------------------


def _tint(hex_colour: str, share: float) -> str:
    """``share`` of the colour over white, e.g. 0.07 for a soft panel background."""
    channels = [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]
    mixed = [round(255 - (255 - c) * share) for c in channels]
    return "#" + "".join(f"{c:02x}" for c in mixed)


def _css_string(text: str) -> str:
    """A CSS string literal; anything but plain letters, digits and spaces is escaped, so the
    text can neither end the string nor the <style> element."""
    escaped = "".join(ch if ch.isalnum() or ch == " " else f"\\{ord(ch):06x}" for ch in text)
    return f'"{escaped}"'


def _page_counter_content() -> str:
    """``"Page " counter(page) " of " counter(pages)`` in the active language, in any order."""
    template = _("Page %(page)s of %(pages)s")
    parts = re.split(r"(%\((?:page|pages)\)s)", template)
    out = []
    for part in parts:
        if part == "%(page)s":
            out.append("counter(page)")
        elif part == "%(pages)s":
            out.append("counter(pages)")
        elif part:
            out.append(_css_string(part))
    return " ".join(out)


def _page_css(brand: str, accent: str) -> SafeString:
    bar = brand.lower() if is_hex_colour(brand) else DEFAULT_ACCENT
    css = (
        f"@page {{ @bottom-right {{ content: {_page_counter_content()}; }} }}\n"
        f".brand-bar {{ background: {bar}; }}\n"
        f".accent, .wordmark, .summary .label {{ color: {accent}; }}\n"
        f".summary {{ background: {_tint(accent, 0.07)}; border-left-color: {accent}; }}\n"
        f".totals tr.balance td {{ background: {_tint(accent, 0.07)}; }}\n"
        f".totals tr.balance td.num, .totals tr.deposit td {{ color: {accent}; }}\n"
        f".verify {{ border-left-color: {accent}; }}\n"
    )
    # Only validated hex colours and _css_string output are interpolated above.
    return mark_safe(css)  # noqa: S308
