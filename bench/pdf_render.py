"""How long an invoice PDF takes: one cold render, then N warm ones, of a 50-line invoice.

    .venv/bin/python bench/pdf_render.py [-n 20] [--lines 50] [--out /tmp/invoice.pdf]

Runs against a throw-away SQLite database in a temporary directory (migrated on start), so it
needs no services and touches no real data. "Cold" includes importing WeasyPrint and loading
fonts in this process; "warm" is what a long-lived worker pays per PDF (the draft is rendered
afresh each time). Each is printed as wall time and as this process's CPU time (the steadier
figure on a shared machine). "Stored" is what the customer's download costs after Send: the
invoice is sent, ``documents.tasks.warm_pdf`` renders and stores it, and each read is
``render_invoice_pdf`` finding the stored file.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(tmp: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ["MEDIA_ROOT"] = str(tmp / "media")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crewcommand.settings")
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    # WeasyPrint reports each layout step at INFO; keep the figures readable.
    logging.getLogger("weasyprint").setLevel(logging.WARNING)


def make_invoice(lines: int):
    from django.contrib.auth import get_user_model

    from crewcommand.lib.activity import Actor
    from crewcommand.models import Company, Customer, Member, Role
    from documents.services import invoice_create, line_save

    company = Company.objects.create(
        name="Maple Plumbing & Heating",
        slug="maple-bench",
        province="QC",
        timezone="America/Toronto",
        email="office@maple.example",
        phone="514 555 0100",
        address_line1="1200 Rue Sainte-Catherine O",
        city="Montréal",
        postal_code="H3B 1K9",
        gst_number="123456789 RT0001",
        qst_number="1234567890 TQ0001",
    )
    user = get_user_model().objects.create_user("bench@example.com", "bench@example.com", "x")
    Member.objects.create(user=user, company=company, role=Role.OWNER)
    customer = Customer.objects.create(
        company=company, name="Alice Tremblay", address_line1="12 Maple Ave", city="Laval"
    )
    actor = Actor.member(user)
    invoice = invoice_create(company=company, customer=customer, actor=actor, province="QC")
    for i in range(lines):
        fields = {
            "description": f"Line {i + 1}: copper pipe, fittings and labour for section {i + 1}",
            "quantity": Decimal(i % 4 + 1),
            "unit_price": Decimal("37.35") + i,
            "taxable": i % 9 != 0,
        }
        line_save(doc=invoice, actor=actor, fields=fields)
    invoice.refresh_from_db()
    return invoice


def timed(fn) -> tuple[float, bytes]:
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000, result


def cpu_timed(fn) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="warm renders (default 20)")
    parser.add_argument("--lines", type=int, default=50, help="invoice lines (default 50)")
    parser.add_argument("--out", type=Path, help="write the PDF here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="pdf-bench-") as tmp:
        setup_django(Path(tmp))
        from pypdf import PdfReader

        from documents.models import Invoice
        from documents.pdf import render_invoice_pdf

        invoice = make_invoice(args.lines)

        def render() -> bytes:
            # A fresh row each time, as a task would load it: the query cost is included.
            fresh = Invoice.objects.select_related("company", "customer", "job", "estimate")
            return render_invoice_pdf(invoice=fresh.get(pk=invoice.pk))

        cold_cpu = time.process_time()
        cold_ms, pdf = timed(render)
        cold_cpu = (time.process_time() - cold_cpu) * 1000
        runs = [cpu_timed(render) for _ in range(args.n)]
        warm = sorted(wall for wall, _cpu in runs)
        cpu = sorted(c for _wall, c in runs)
        p95 = warm[min(len(warm) - 1, round(0.95 * (len(warm) - 1)))]
        pages = len(PdfReader(io.BytesIO(pdf)).pages)
        if args.out:
            args.out.write_bytes(pdf)
        stored = stored_reads(invoice, args.n)

    print(f"invoice lines     {args.lines}")
    print(f"pages             {pages}")
    print(f"bytes             {len(pdf)}")
    print(f"cold ms           {cold_ms:.0f}  (CPU {cold_cpu:.0f})")
    print(
        f"warm median ms    {statistics.median(warm):.0f}  (CPU {statistics.median(cpu):.0f}, n={args.n})"
    )
    print(f"warm p95 ms       {p95:.0f}")
    print(f"warm min/max ms   {warm[0]:.0f} / {warm[-1]:.0f}")
    print(f"stored median ms  {statistics.median(stored):.1f}  (after Send: the file, no render)")


def stored_reads(invoice, n: int) -> list[float]:
    """Send the invoice, let the task store its PDF, then time the customer's reads."""
    from crewcommand.lib.activity import Actor
    from documents import pdf as pdf_module
    from documents.models import Invoice
    from documents.services import invoice_send
    from documents.tasks import warm_pdf

    invoice = invoice_send(invoice=invoice, actor=Actor.system())
    warm_pdf(kind="invoice", pk=invoice.pk)
    real, renders = pdf_module._render_invoice, []

    def spy(*args, **kwargs):
        renders.append(1)
        return real(*args, **kwargs)

    pdf_module._render_invoice = spy
    fresh = Invoice.objects.select_related("company", "customer", "job", "estimate")
    times = sorted(
        timed(lambda: pdf_module.render_invoice_pdf(invoice=fresh.get(pk=invoice.pk)))[0]
        for _ in range(n)
    )
    pdf_module._render_invoice = real
    assert not renders, "a stored PDF was rendered again"
    return times


if __name__ == "__main__":
    main()
