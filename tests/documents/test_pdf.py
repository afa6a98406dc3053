"""Estimate and invoice PDFs: content read back from the PDF text, amounts equal to an
independent calculation (``tests.money_oracle``: its own rates and rounding, not
documents.totals) to the cent, pagination, the certificate page, and no network access."""

from __future__ import annotations

import base64
import datetime as dt
import io
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core.files.base import ContentFile
from django.utils import translation
from PIL import Image
from pypdf import PdfReader

from billing import services as billing
from crewcommand.lib.activity import Actor
from crewcommand.models import Role
from documents import pdf
from documents.models import DepositKind, InvoiceStatus, LineKind
from documents.services import (
    estimate_create,
    estimate_send,
    invoice_create,
    invoice_send,
    invoice_void,
    line_save,
)
from documents.totals import Selection
from tests.factories import CompanyFactory, CustomerFactory, EstimateFactory, MemberFactory
from tests.money_oracle import PROVINCES, cad, cents, expected

D = Decimal
SHA = "9f2c1e7a4b5d6c8e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70"


def pages_text(data: bytes) -> list[str]:
    assert data.startswith(b"%PDF-")
    text = [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]
    # fr-CA money uses no-break spaces; compare on plain spaces.
    return [t.replace("\u202f", " ").replace("\xa0", " ") for t in text]


def plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


def png_bytes(size=(120, 40), colour="#0f766e") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def add(doc, actor, description, price, **fields):
    fields = {"description": description, "quantity": D(1), "unit_price": D(price), **fields}
    return line_save(doc=doc, actor=actor, fields=fields)


@pytest.fixture
def actor(owner):
    return Actor.member(owner.user)


HEATER_OPTIONS = (
    {"description": "Remove old water heater", "unit_price": "285.00"},
    {
        "description": "50 gal tank heater",
        "unit_price": "1895.00",
        "kind": LineKind.CHOICE,
        "group": "Water heater",
    },
    {
        "description": "Tankless heater",
        "unit_price": "4350.00",
        "kind": LineKind.CHOICE,
        "group": "Water heater",
        "selected_by_default": False,
    },
    {"description": "Expansion tank", "unit_price": "245.00", "kind": LineKind.OPTIONAL},
    {
        "description": "Maintenance plan",
        "unit_price": "189.00",
        "kind": LineKind.OPTIONAL,
        "selected_by_default": False,
    },
    {"description": "Plumbing permit", "unit_price": "150.00", "taxable": False},
)


@pytest.fixture
def draft_with_options(customer, job, actor):
    """ON draft estimate: a package with two options, a picked and an unpicked add-on, an
    exempt permit, and a 25% deposit."""
    return EstimateFactory(
        customer=customer,
        job=job,
        actor=actor,
        sent=False,
        lines=HEATER_OPTIONS,
        revision={
            "deposit_kind": DepositKind.PERCENT,
            "deposit_value": D("25"),
            "notes": "Work starts within 3 days.",
            "terms": "Balance due on completion.",
        },
    )


def company_in(province: str, **fields):
    company = CompanyFactory(province=province, name=f"{province} Renovations", **fields)
    member = MemberFactory(company=company, role=Role.OWNER)
    customer = CustomerFactory(company=company, name="Benoît Gagnon")
    return company, customer, Actor.member(member.user)


def certificate(**overrides):
    return {
        "signer_name": "Alice Tremblay",
        "signed_at": dt.datetime(2026, 11, 4, 20, 2, 11, tzinfo=dt.UTC),
        "ip": "203.0.113.42",
        "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Safari/604.1",
        "link_reference": "lnk_7QmX2d9KpA",
        "consent_text": "I agree to sign this estimate electronically.",
        "selection_summary": ["Water heater: Tankless heater", "Expansion tank"],
        "sha256": SHA,
        "revision_number": 1,
        "signature_svg": (
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 300 100">'
            '<path d="M10 70 C 40 10, 60 10, 80 60 S 120 100, 150 40" fill="none" '
            'stroke="#0f172a" stroke-width="3"/></svg>'
        ),
        "verify_hint": "Recompute the hash from the revision's canonical JSON.",
        **overrides,
    }


# --- Estimates -----------------------------------------------------------------------------------


# The estimate fixture's default selection: removal, the 50 gal heater, the expansion tank
# (taxable) and the permit (exempt).
DEFAULT_CHOICE = [("1", "285.00", True), ("1", "1895.00", True), ("1", "245.00", True)]
PERMIT = ("1", "150.00", False)


def test_estimate_pdf_total_equals_an_independent_calculation_with_hst_and_deposit(
    draft_with_options,
):
    want = expected([*DEFAULT_CHOICE, PERMIT], "ON")
    assert (want.subtotal, want.total) == (D("2575.00"), D("2890.25"))

    (page, *_rest) = pages_text(pdf.render_estimate_pdf(estimate=draft_with_options))

    assert f"Total {cad(want.total)}" in page
    assert f"Subtotal {cad(want.subtotal)}" in page
    assert f"HST 13% {cad(want.tax('HST 13%'))}" in page
    deposit = cents(want.total * 25 / 100)  # 722.5625 -> 722.56
    assert f"Deposit requested (25%) {cad(deposit)}" in page
    assert "EST-0001" in page
    assert "Revision" not in page
    assert "Alice Tremblay" in page and "Maple Plumbing" in page
    assert "Water heater: selected option" in page
    assert "Optional add-on, selected" in page
    assert "Tax exempt" in page


def test_estimate_pdf_lists_unchosen_options_apart_from_the_totals(draft_with_options):
    text = "\n".join(pages_text(pdf.render_estimate_pdf(estimate=draft_with_options)))

    chosen, _sep, options = text.partition("OPTIONS NOT SELECTED")
    assert "Tankless heater" in options and "Maintenance plan" in options
    assert "Tankless heater" not in chosen and "Maintenance plan" not in chosen
    assert "Water heater: other option" in options
    assert "Work starts within 3 days." in text
    assert "Balance due on completion." in text


def test_estimate_pdf_follows_the_customers_selection(draft_with_options):
    revision = draft_with_options.current_revision
    lines = {line.description: line for line in revision.lines.all()}
    selection = Selection(
        optional=frozenset({lines["Maintenance plan"].public_id}),
        choices={"Water heater": lines["Tankless heater"].public_id},
    )
    # Removal, the tankless heater and the maintenance plan; the permit stays exempt.
    chosen = [("1", "285.00", True), ("1", "4350.00", True), ("1", "189.00", True), PERMIT]
    want = expected(chosen, "ON")

    text = "\n".join(
        pages_text(pdf.render_estimate_pdf(estimate=draft_with_options, selection=selection))
    )

    assert f"Total {cad(want.total)}" in text and cad(want.total) == "$5,601.12"
    chosen, _sep, options = text.partition("OPTIONS NOT SELECTED")
    assert "Tankless heater" in chosen and "Maintenance plan" in chosen
    assert "50 gal tank heater" in options and "Expansion tank" in options


def test_second_revision_is_labelled_and_the_first_stays_renderable(draft_with_options, actor):
    first = draft_with_options.current_revision
    estimate_send(estimate=draft_with_options, actor=actor)
    add(draft_with_options, actor, "Drain pan", "95.00")
    draft_with_options.refresh_from_db()
    second = draft_with_options.current_revision
    assert second.number == 2

    new_text = pages_text(pdf.render_estimate_pdf(estimate=draft_with_options))[0]
    old_text = pages_text(pdf.render_estimate_pdf(estimate=draft_with_options, revision=first))[0]

    assert "EST-0001 · Revision 2" in new_text and "Drain pan" in new_text
    want = expected([*DEFAULT_CHOICE, PERMIT, ("1", "95.00", True)], "ON")
    assert f"Total {cad(want.total)}" in new_text
    assert "Revision" not in old_text and "Drain pan" not in old_text
    assert pdf.pdf_filename(draft_with_options) == "EST-0001-r2.pdf"
    assert pdf.pdf_filename(first) == "EST-0001.pdf"


def test_revision_of_another_estimate_is_refused(draft_with_options, company, customer, actor):
    other = estimate_create(company=company, customer=customer, actor=actor)
    with pytest.raises(ValueError):
        pdf.render_estimate_pdf(estimate=draft_with_options, revision=other.current_revision)


def test_certificate_page_carries_the_audit_trail_and_hash(draft_with_options):
    data = pdf.render_estimate_pdf(estimate=draft_with_options, certificate=certificate())
    pages = pages_text(data)
    last = pages[-1]

    assert "Certificate of electronic signature" in last
    assert SHA in last.replace("\n", "")
    for value in ("Alice Tremblay", "203.0.113.42", "lnk_7QmX2d9KpA", "Expansion tank"):
        assert value in last
    assert "I agree to sign this estimate electronically." in last
    assert "4 Nov 2026, 3:02 p.m. EST (UTC-05:00)" in last
    assert "2026-11-04 20:02:11 UTC" in last
    assert "Estimate EST-0001, revision 1" in last
    assert "Recompute the hash" in last and "How to verify".upper() in last
    assert "Signature image unavailable" not in last
    assert f"Page {len(pages)} of {len(pages)}" in last
    assert "Signed electronically by Alice Tremblay" in pages[0]


def test_certificate_accepts_a_png_signature_and_survives_a_bad_one(draft_with_options):
    png_url = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    good = pdf.render_estimate_pdf(
        estimate=draft_with_options,
        certificate=certificate(signature_svg=None, signature_png_data_url=png_url),
    )
    reader = PdfReader(io.BytesIO(good))
    assert len(reader.pages[-1].images) == 1

    bad = pdf.render_estimate_pdf(
        estimate=draft_with_options,
        certificate=certificate(signature_svg="<script>x</script>", signature_png_data_url="x"),
    )
    assert "Signature image unavailable." in pages_text(bad)[-1]


def test_certificate_needs_an_aware_timestamp(draft_with_options):
    with pytest.raises(ValueError):
        pdf.render_estimate_pdf(
            estimate=draft_with_options,
            certificate=certificate(signed_at=dt.datetime(2026, 11, 4, 12)),
        )


def test_estimate_pdf_query_count_does_not_grow_with_lines(
    draft_with_options, actor, django_assert_max_num_queries
):
    for i in range(15):
        add(draft_with_options, actor, f"Extra {i}", "10.00")
    draft_with_options.refresh_from_db()
    with django_assert_max_num_queries(6):
        pdf.render_estimate_pdf(estimate=draft_with_options)


# --- Invoices ------------------------------------------------------------------------------------


def test_quebec_invoice_shows_gst_qst_and_both_registration_numbers(db):
    company, customer, actor = company_in(
        "QC", gst_number="123456789 RT0001", qst_number="1234567890 TQ0001"
    )
    invoice = invoice_create(company=company, customer=customer, actor=actor, terms="net15")
    add(invoice, actor, "Service call", "129.00")
    add(invoice, actor, "Labour", "115.00", quantity=D("3.5"))
    add(invoice, actor, "Disposal fee", "25.00", taxable=False)
    invoice.refresh_from_db()
    want = expected([("1", "129.00", 1), ("3.5", "115.00", 1), ("1", "25.00", 0)], "QC")

    text = pages_text(pdf.render_invoice_pdf(invoice=invoice))[0]

    assert f"GST 5% {cad(want.tax('GST 5%'))}" in text  # 5 % of 531.50
    assert f"QST 9.975% {cad(want.tax('QST 9.975%'))}" in text  # on the price before GST
    assert f"Total {cad(want.total)}" in text
    assert "GST/HST no. 123456789 RT0001" in text
    assert "QST no. 1234567890 TQ0001" in text
    assert f"Balance due {cad(want.total)}" in text
    assert "Net 15" in text and "INV-0001" in text
    assert pdf.pdf_filename(invoice) == "INV-0001.pdf"


def test_bc_invoice_shows_gst_and_pst(db):
    company, customer, actor = company_in("BC")
    invoice = invoice_create(company=company, customer=customer, actor=actor)
    add(invoice, actor, "Furnace tune-up", "189.00")
    invoice.refresh_from_db()

    text = pages_text(pdf.render_invoice_pdf(invoice=invoice))[0]

    assert "GST 5% $9.45" in text and "PST 7% $13.23" in text and "Total $211.68" in text
    assert "GST/HST no." not in text and "QST no." not in text


def test_invoice_shows_deposit_payments_and_balance(customer, actor):
    """A 25 % deposit paid on the signed estimate, the invoice made from it, $200 paid on that:
    all through the services."""
    from tests.billing.conftest import deposit, roof
    from tests.factories import PaymentFactory, SignedEstimateFactory

    def pay(amount, **document):
        PaymentFactory(actor=actor, amount=amount, received_on=dt.date.today(), **document)

    estimate = SignedEstimateFactory(
        customer=customer, lines=roof("1895.00"), revision=deposit("25")
    )
    total = expected([("1", "1895.00", True)], "ON").total  # 2141.35
    deposit = cents(total * 25 / 100)  # 535.3375 -> 535.34
    pay(str(deposit), estimate=estimate)
    invoice = billing.estimate_convert(estimate=estimate, actor=actor)
    invoice_send(invoice=invoice, actor=actor)
    pay("200.00", invoice=invoice)
    invoice.refresh_from_db()

    text = pages_text(pdf.render_invoice_pdf(invoice=invoice))[0]

    assert f"Total {cad(total)}" in text
    assert f"Deposit received \u2212{cad(deposit)}" in text
    assert "Payments received \u2212$200.00" in text
    assert f"Balance due {cad(total - deposit - D('200.00'))}" in text  # $1,406.01
    assert "PARTIALLY PAID" in text
    assert text.count("PAID") == 1, "no PAID stamp before the balance is paid"


def test_paid_invoice_gets_a_stamp_and_void_invoice_a_watermark(company, customer, actor):
    from billing import services as billing

    invoice = invoice_create(company=company, customer=customer, actor=actor)
    add(invoice, actor, "Drain cleaning", "240.00")
    invoice_send(invoice=invoice, actor=actor)
    billing.payment_record(
        actor=actor,
        invoice=invoice,
        amount=D("271.20"),
        method="cheque",
        received_on=dt.date.today(),
    )
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    paid = pages_text(pdf.render_invoice_pdf(invoice=invoice))[0]
    assert "PAID" in paid and "Paid in full" in paid
    assert "Total $271.20" in paid and "Payments received \u2212$271.20" in paid
    assert "Balance due $0.00" in paid

    invoice = invoice_create(company=company, customer=customer, actor=actor)
    add(invoice, actor, "Drain cleaning", "240.00")
    invoice_void(invoice=invoice, actor=actor)
    invoice.refresh_from_db()
    void = pages_text(pdf.render_invoice_pdf(invoice=invoice))[0]
    assert "VOID" in void and "Nothing is owed" in void
    assert "PAID" not in void


def test_sixty_line_invoice_paginates_with_repeated_header(company, customer, actor):
    invoice = invoice_create(company=company, customer=customer, actor=actor)
    for i in range(60):
        add(invoice, actor, f"Section {i + 1}: copper pipe and fittings", "37.35")
    invoice.refresh_from_db()

    pages = pages_text(pdf.render_invoice_pdf(invoice=invoice))

    assert len(pages) >= 2
    assert "Page 2 of" in pages[1]
    assert f"Page 1 of {len(pages)}" in pages[0]
    assert "DESCRIPTION QTY UNIT PRICE AMOUNT" in pages[1]
    assert "Maple Plumbing · INV-0001" in pages[1]
    want = expected([("1", "37.35", True)] * 60, "ON")
    assert f"Total {cad(want.total)}" in "\n".join(pages) and want.total == D("2532.33")


def test_french_pdf_formats_money_the_french_way(company, customer, actor):
    invoice = invoice_create(company=company, customer=customer, actor=actor)
    add(invoice, actor, "Chauffe-eau", "1895.00")
    invoice.refresh_from_db()
    # The PDF is in the customer's language, whatever language is active where it is made.
    customer.language = "fr-ca"
    customer.save(update_fields=["language"])
    text = pages_text(pdf.render_invoice_pdf(invoice=invoice))[0]
    total = expected([("1", "1895.00", True)], "ON").total
    assert f"{total:,.2f}".replace(",", " ").replace(".", ",") + " $" in text  # 2 141,35 $
    assert "TVH 13 %" in text and "Facture" in text and "Sous-total" in text
    with translation.override("fr-ca"):  # an English customer's PDF stays English
        customer.language = "en-ca"
        customer.save(update_fields=["language"])
        invoice.refresh_from_db()
        assert "HST 13%" in pages_text(pdf.render_invoice_pdf(invoice=invoice))[0]


@pytest.mark.parametrize("province", PROVINCES)
def test_invoice_pdf_amounts_in_every_province_equal_an_independent_calculation(province, db):
    """Fractional quantities, a half cent on a line, an exempt line: every amount printed."""
    lines = [("2.5", "95.00", True), ("0.335", "3.00", True), ("1", "49.99", False)]
    company, customer, actor = company_in(province)
    invoice = invoice_create(company=company, customer=customer, actor=actor)
    for n, (quantity, price, taxable) in enumerate(lines):
        add(invoice, actor, f"Line {n}", price, quantity=D(quantity), taxable=taxable)
    invoice_send(invoice=invoice, actor=actor)
    invoice.refresh_from_db()
    want = expected(lines, province)

    text = pages_text(pdf.render_invoice_pdf(invoice=invoice))[0]

    assert f"Subtotal {cad(want.subtotal)}" in text  # 237.50 + 1.01 + 49.99
    for label, amount in want.taxes:
        assert f"{label} {cad(amount)}" in text, (province, label)
    assert f"Total {cad(want.total)}" in text
    assert f"Balance due {cad(want.total)}" in text


# --- Letterhead ----------------------------------------------------------------------------------


def test_logo_is_embedded_from_media_root(company, customer, actor, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    company.logo.save("maple.png", ContentFile(png_bytes((240, 80))), save=True)
    invoice = invoice_create(company=company, customer=customer, actor=actor)
    add(invoice, actor, "Service call", "129.00")

    data = pdf.render_invoice_pdf(invoice=invoice)

    assert len(PdfReader(io.BytesIO(data)).pages[0].images) == 1


def test_missing_logo_falls_back_to_the_wordmark(company, customer, actor, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    company.logo = "logos/gone.png"
    company.save()
    invoice = invoice_create(company=company, customer=customer, actor=actor)

    data = pdf.render_invoice_pdf(invoice=invoice)

    assert len(PdfReader(io.BytesIO(data)).pages[0].images) == 0
    assert pages_text(data)[0].startswith("Maple Plumbing")


@pytest.mark.parametrize(
    ("brand", "accent"),
    [("#0F766E", "#0f766e"), ("#FACC15", "#1d4ed8"), ("red", "#1d4ed8")],
)
def test_brand_colour_too_light_for_text_falls_back_to_ours(company, brand, accent):
    """The PDF follows the one contrast rule (crewcommand.lib.colour), as the portal does."""
    company.brand_color = brand
    css = pdf._Page(company=company, locale="en_CA").context("INV-1", "")["page_css"]
    assert f".accent, .wordmark, .summary .label {{ color: {accent}; }}" in css


def test_page_counter_css_is_escaped():
    assert pdf._css_string('a"b</style>') == '"a\\000022b\\00003c\\00002fstyle\\00003e"'
    assert pdf._page_counter_content() == '"Page " counter(page) " of " counter(pages)'


# --- No network, no stray files -------------------------------------------------------------------


@pytest.fixture
def http_server():
    """A loopback server that records every request it gets."""
    hits: list[str] = []
    body = png_bytes((4, 4))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", hits
    server.shutdown()
    server.server_close()


def test_renderer_never_fetches_from_the_network(http_server, monkeypatch):
    from weasyprint import HTML

    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    url, hits = http_server
    html = (
        f'<link rel="stylesheet" href="{url}/style.css">'
        f'<style>p {{ background: url("{url}/bg.png") }}</style>'
        f'<p><img src="{url}/pixel.png">Hello</p>'
    )
    HTML(string=html).write_pdf()
    assert hits, "control: WeasyPrint's own fetcher does reach the server"
    hits.clear()

    data = pdf._html_to_pdf(html)

    assert data.startswith(b"%PDF-")
    assert hits == []


def test_html_in_a_description_is_text_and_fetches_nothing(
    company, customer, actor, http_server, monkeypatch
):
    url, hits = http_server
    fetchers = []
    real = pdf.local_fetcher

    def recording_fetcher(**kwargs):
        fetchers.append(real(**kwargs))
        return fetchers[-1]

    monkeypatch.setattr(pdf, "local_fetcher", recording_fetcher)
    invoice = invoice_create(company=company, customer=customer, actor=actor)
    add(invoice, actor, f'<img src="{url}/x.png"> Leak test', "10.00")

    text = pages_text(pdf.render_invoice_pdf(invoice=invoice))[0]

    assert f'<img src="{url}/x.png"> Leak test' in text
    assert hits == []
    assert fetchers and fetchers[0].refused == []


def test_fetcher_serves_only_the_logo_static_files_and_image_data(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    mine, theirs = tmp_path / "mine.png", tmp_path / "theirs.png"
    mine.write_bytes(png_bytes())
    theirs.write_bytes(png_bytes())
    fetcher = pdf.local_fetcher(files=[mine])
    stylesheet = Path(finders.find("css/pdf.css"))
    png = base64.b64encode(png_bytes()).decode()

    assert fetcher.fetch(mine.as_uri()).read() == mine.read_bytes()
    assert fetcher.fetch(stylesheet.as_uri()).read().startswith(b"/*!")
    assert fetcher.fetch(f"data:image/png;base64,{png}").read().startswith(b"\x89PNG")
    refused = [
        "http://127.0.0.1:9/x.png",
        "https://example.com/logo.png",
        "ftp://example.com/x",
        theirs.as_uri(),
        "file:///etc/passwd",
        stylesheet.as_uri().replace("/css/pdf.css", "/css/../../pyproject.toml"),
        "file://evil.example/etc/passwd",
        "data:text/html,<h1>x</h1>",
    ]
    for url in refused:
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    assert len(fetcher.refused) == len(refused)
