"""Backup and restore, proven: a dump restored into a fresh database is whole.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crewcommand \\
        .venv/bin/python bench/restore_check.py [--customers 40] [--keep]

1. Makes a source database ``<name>_restore_src`` (next to ``DATABASE_URL``'s, which is not
   touched), migrates it and fills it through the app's own services: ``seed_demo``, then
   ``--customers`` customers, half in the demo company and half each in a company of their own,
   each with an estimate signed through the portal, an estimate waiting, an invoice partly paid
   and an invoice paid in full, a portal link to each and one to the customer, and a review
   request. Links are stored hashed, so the raw tokens are kept (in a file outside the database)
   as they are made: the only way to show a restored link still opens.
2. Dumps it with ``scripts/backup`` (``pg_dump --format=custom``).
3. Restores the dump with ``pg_restore`` into a fresh ``<name>_restore_dst``.
4. Compares every table's row count and an md5 of all its rows, source against restored.
5. With the app pointed at the restored database (Django's test client, ``DEBUG`` off, the same
   ``SIGNATURE_SEAL_KEY``): every signature re-verifies (``portal.services.signature_verify``:
   seal, snapshot hash, snapshot against the revision); every estimate revision's and invoice's
   stored subtotal, tax and total recompute to the cent (``documents.totals``); every invoice's
   amount paid equals its applied payments (``billing.services.ledger.applied_net``); every
   portal link opens its page, its document's page and its PDF, and every review link its page.

Prints each figure; exits 1 if anything differs. ``--keep`` leaves both databases and the dump.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
SITE = "https://restore.example"


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def _admin(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(_with_db(url, "postgres"), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _fingerprints(url: str) -> dict[str, tuple[int, str]]:
    """Row count and an md5 of every row of every table in the public schema."""
    import psycopg

    with psycopg.connect(url) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        result = {}
        for table in tables:
            # Table names come from the catalogue.
            count, digest = conn.execute(
                "SELECT count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) "
                f'FROM "{table}" x'
            ).fetchone()
            result[table] = (count, digest)
        return result


def _tamper(url: str) -> None:
    """What a damaged restore could look like, one of each: proves the check can fail."""
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE portal_signature SET signer_name = signer_name || '.' "
            "WHERE id = (SELECT min(id) FROM portal_signature)"
        )
        conn.execute(
            "UPDATE documents_invoice SET total = total + 0.01 "
            "WHERE id = (SELECT max(id) FROM documents_invoice)"
        )
        conn.execute(
            "DELETE FROM portal_portallink WHERE id = (SELECT max(id) FROM portal_portallink)"
        )
    print("tampered: one signature's signer, one invoice's total, one link deleted")


def _app_env(database_url: str, seal_key: str, secret_key: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": secret_key,
        "SIGNATURE_SEAL_KEY": seal_key,
        "SITE_URL": SITE,
        "ALLOWED_HOSTS": urlsplit(SITE).hostname or "",
        "EMAIL_URL": "locmem://",
        "TRUST_X_FORWARDED_PROTO": "true",
        "DJANGO_SETTINGS_MODULE": "crewcommand.settings",
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)  # Celery runs tasks inline: nothing is left in a queue
    return env


def _step(label: str, started: float) -> None:
    print(f"  {label}: {time.monotonic() - started:.1f} s", flush=True)


def orchestrate(args: argparse.Namespace) -> int:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crewcommand")
    if not base.startswith(("postgres://", "postgresql://")):
        print("restore_check: DATABASE_URL must be PostgreSQL", file=sys.stderr)
        return 2
    name = urlsplit(base).path.lstrip("/") or "crewcommand"
    src_name, dst_name = f"{name}_restore_src", f"{name}_restore_dst"
    src, dst = _with_db(base, src_name), _with_db(base, dst_name)
    work = Path(tempfile.mkdtemp(prefix="restore-check-"))
    tokens, dump = work / "tokens.json", work / "crewcommand.dump"
    env_src = _app_env(src, seal := secrets.token_urlsafe(40), secret := secrets.token_urlsafe(50))
    env_dst = _app_env(dst, seal, secret)
    me = [sys.executable, str(Path(__file__).resolve())]
    started = time.monotonic()
    print(f"restore check: {args.customers} customers, source {src_name}, restored {dst_name}")
    _admin(base, f'DROP DATABASE IF EXISTS "{src_name}"', f'CREATE DATABASE "{src_name}"')
    subprocess.run(
        [*me, "--phase", "fill", "--customers", str(args.customers), "--tokens", str(tokens)],
        env=env_src,
        check=True,
    )
    _step("migrated and filled", started)
    subprocess.run(
        [str(ROOT / "scripts" / "backup"), str(dump)], env={**os.environ, "DATABASE_URL": src}
    ).check_returncode()
    _step("dumped", started)
    _admin(base, f'DROP DATABASE IF EXISTS "{dst_name}"', f'CREATE DATABASE "{dst_name}"')
    subprocess.run(
        ["pg_restore", "--no-owner", "--exit-on-error", "--dbname", dst, str(dump)], check=True
    )
    _step("restored", started)
    if args.tamper:
        _tamper(dst)
    before, after = _fingerprints(src), _fingerprints(dst)
    differ = sorted(t for t in before.keys() | after.keys() if before.get(t) != after.get(t))
    rows = sum(count for count, _digest in before.values())
    print(
        f"tables: {len(before)} in the source, {len(after)} restored, {len(differ)} differ "
        f"(rows {rows}, every row compared by md5)"
    )
    for table in differ:
        print(f"  DIFFERS {table}: source {before.get(table)} restored {after.get(table)}")
    check = subprocess.run([*me, "--phase", "check", "--tokens", str(tokens)], env=env_dst)
    _step("checked", started)
    print(f"dump: {dump.stat().st_size / 1024:.0f} KiB; total {time.monotonic() - started:.1f} s")
    if not args.keep:
        _admin(base, f'DROP DATABASE "{src_name}"', f'DROP DATABASE "{dst_name}"')
        dump.unlink()
        tokens.unlink()
        work.rmdir()
    else:
        print(f"kept: {src_name}, {dst_name}, {dump}")
    ok = not differ and check.returncode == 0
    print("RESTORE CHECK " + ("PASSED" if ok else "FAILED"))
    return 0 if ok else 1


# --- In the app, against the source database ----------------------------------------------------


def fill(customers: int, tokens_file: Path) -> None:
    import django

    django.setup()
    from decimal import Decimal

    from django.core.management import call_command
    from django.utils import timezone

    from crewcommand.models import Company
    from portal import services as portal
    from reviews.services import review_link_for
    from tests import factories

    call_command("migrate", verbosity=0, interactive=False)
    call_command("seed_demo", allow_production=True, stdout=open(os.devnull, "w"))  # noqa: SIM115
    demo = Company.objects.get(slug="demo")
    timezone.activate(demo.timezone)
    links: list[dict] = []
    reviews: list[str] = []

    def keep(issued: portal.IssuedLink, document=None) -> None:
        entry = {"token": issued.token, "kind": "customer", "id": ""}
        if document is not None:
            entry["kind"] = document._meta.model_name
            entry["id"] = document.public_id
        links.append(entry)

    for i in range(customers):
        company = demo if i % 2 == 0 else factories.CompanyFactory()
        customer = factories.CustomerFactory(
            company=company, name=f"Restore Customer {i:04d}", email=f"restore{i}@example.com"
        )
        signed = factories.EstimateFactory(customer=customer, signed=True)
        waiting = factories.EstimateFactory(customer=customer)
        partly = factories.InvoiceFactory(customer=customer)
        factories.PaymentFactory(invoice=partly, amount=Decimal("100.00"))
        paid = factories.InvoiceFactory(customer=customer)
        factories.PaymentFactory(invoice=paid, amount=paid.total)
        for document in (signed, waiting, partly, paid):
            keep(
                portal.link_create(customer=customer, document=document, actor=_system()), document
            )
        keep(portal.link_create(customer=customer, actor=_system()))
        reviews.append(review_link_for(customer=customer).removeprefix(SITE))
    tokens_file.write_text(json.dumps({"links": links, "reviews": reviews}))
    print(f"  filled: {len(links)} portal links and {len(reviews)} review links kept", flush=True)


def _system():
    from crewcommand.lib.activity import Actor

    return Actor.system()


# --- In the app, against the restored database --------------------------------------------------


def _cents(value) -> int:
    from decimal import Decimal

    return int((Decimal(value) * 100).to_integral_exact())


def check(tokens_file: Path) -> int:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from billing.models import PaymentPurpose
    from billing.services.ledger import applied_net
    from documents.models import EstimateRevision, Invoice
    from documents.totals import invoice_totals, revision_totals
    from portal.models import Signature
    from portal.services import signature_verify

    # The restored schema is the code's: no migration left to apply (exits 1 otherwise).
    call_command("migrate", check=True, verbosity=0)
    print("schema: every migration applied")
    # Plain static storage: the dump holds no collected static files (as in the browser tests).
    warnings.filterwarnings("ignore", message="No directory at")
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    failures = 0

    signatures = list(Signature.objects.select_related("estimate", "revision", "company", "link"))
    bad = [s for s in signatures if not signature_verify(signature=s).ok]
    failures += len(bad)
    print(f"signatures: {len(signatures)} re-verified, {len(bad)} failed")
    for s in bad:
        print(f"  FAILED {s.public_id}: {signature_verify(signature=s).problems}")

    fields = ("subtotal", "tax_total", "total")
    revisions = list(EstimateRevision.objects.prefetch_related("lines"))
    wrong = []
    for revision in revisions:
        totals = revision_totals(revision, lines=list(revision.lines.all()))
        if any(_cents(getattr(totals, f)) != _cents(getattr(revision, f)) for f in fields):
            wrong.append(f"revision {revision.pk}")
    invoices = list(Invoice.objects.prefetch_related("lines"))
    for invoice in invoices:
        totals = invoice_totals(invoice, list(invoice.lines.all()))
        if any(_cents(getattr(totals, f)) != _cents(getattr(invoice, f)) for f in fields):
            wrong.append(f"invoice {invoice.public_id}")
    failures += len(wrong)
    print(
        f"totals: {len(revisions)} estimate revisions and {len(invoices)} invoices recomputed, "
        f"{len(wrong)} differ from the stored cents {wrong[:5]}"
    )

    unpaid = []
    paid = 0
    for invoice in invoices:
        applied = applied_net(invoice.payments.filter(purpose=PaymentPurpose.INVOICE))
        paid += invoice.amount_paid > 0
        if _cents(applied) != _cents(invoice.amount_paid):
            unpaid.append(invoice.public_id)
    failures += len(unpaid)
    print(
        f"payments: {paid} invoices with money paid, {len(unpaid)} whose amount paid differs "
        "from their applied payments"
    )

    data = json.loads(tokens_file.read_text())
    client = Client(headers={"host": urlsplit(SITE).hostname})
    opened = pdfs = 0
    dead = []
    for number, link in enumerate(data["links"]):
        token, kind = link["token"], link["kind"]
        pages = [reverse("portal:home", args=[token])]
        if kind in ("estimate", "invoice"):
            pages.append(reverse(f"portal:{kind}", args=[token, link["id"]]))
            pages.append(reverse(f"portal:{kind}_pdf", args=[token, link["id"]]))
        for part, page in zip(("link", "page", "pdf"), pages, strict=False):
            response = client.get(page, follow=True, secure=True)
            names = {t.name for t in response.templates if t.name}
            if response.status_code != 200 or names & {
                "portal/invalid.html",
                "portal/dead_link.html",
            }:
                # Named by position, never by token: tokens are not printed.
                dead.append((f"{kind} link {number} {part}", response.status_code))
            elif part == "pdf":
                pdfs += response["Content-Type"] == "application/pdf"
        opened += 1
    for number, page in enumerate(data["reviews"]):
        response = client.get(page, secure=True)
        if response.status_code != 200:
            dead.append((f"review link {number}", response.status_code))
    failures += len(dead)
    print(
        f"links: {opened} portal links opened (their pages, {pdfs} PDFs), "
        f"{len(data['reviews'])} review links, {len(dead)} failed {dead[:5]}"
    )
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=40)
    parser.add_argument("--keep", action="store_true", help="keep both databases and the dump")
    parser.add_argument(
        "--tamper",
        action="store_true",
        help="change a signature, a total and a link in the restored copy: the check must fail",
    )
    parser.add_argument("--phase", choices=["fill", "check"], help=argparse.SUPPRESS)
    parser.add_argument("--tokens", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "fill":
        fill(args.customers, args.tokens)
        return 0
    if args.phase == "check":
        return check(args.tokens)
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
