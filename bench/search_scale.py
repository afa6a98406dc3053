"""Invoice search at scale: by number and by customer name, at 10k and at 1,000,000 invoices.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cc_x .venv/bin/python bench/search_scale.py \\
        [--stages 10 1000] [-n 40] [--keep]

Makes a throw-away PostgreSQL database (``<DATABASE_URL's name>_search``, dropped at the end),
migrates it, and grows it in stages of companies, each with 100 customers and 1,000 invoices
(10 invoices per customer), by ``INSERT … SELECT … generate_series`` in the database (copies of
one invoice made through the ORM, so every column is a real one): ``--stages 10 1000`` measures
at 10 companies (10,000 invoices, 1,000 customers) and at 1,000 companies (1,000,000 invoices,
100,000 customers).

At each stage it runs what the invoice list does for a search (``documents.selectors
.invoice_list`` under ``Paginator``: the count and the first page of 25) ``n`` times for random
companies, by number (``INV-0421``) and by a customer's last name (``tremblay``), and prints
p50/p95 in ms with the query count, then the ``EXPLAIN ANALYZE`` of the slowest page query.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
CUSTOMERS_PER_COMPANY = 100
INVOICES_PER_CUSTOMER = 10

FIRST = [
    "Alice",
    "Marc",
    "Julie",
    "Kevin",
    "Nadia",
    "Olivier",
    "Priya",
    "Sophie",
    "Thomas",
    "Wei",
    "Chloé",
    "Étienne",
    "Fatima",
    "Gabriel",
    "Hana",
    "Isaac",
    "Jasmine",
    "Karim",
    "Léa",
    "Mathieu",
    "Noah",
    "Océane",
    "Pierre",
    "Rania",
    "Samuel",
    "Yara",
    "Zoé",
    "Liam",
    "Emma",
    "Ava",
]
LAST = [
    "Tremblay",
    "Gagnon",
    "Roy",
    "Côté",
    "Bouchard",
    "Gauthier",
    "Morin",
    "Lavoie",
    "Fortin",
    "Gagné",
    "Ouellet",
    "Pelletier",
    "Bélanger",
    "Lévesque",
    "Bergeron",
    "Leblanc",
    "Paquette",
    "Girard",
    "Simard",
    "Boucher",
    "Caron",
    "Beaulieu",
    "Cloutier",
    "Dubé",
    "Poirier",
    "Fournier",
    "Lapointe",
    "Leclerc",
    "Lefebvre",
    "Poulin",
    "Thibault",
    "St-Pierre",
    "Nadeau",
    "Martin",
    "Landry",
    "Martel",
    "Bédard",
    "Grenier",
    "Lessard",
    "Bernier",
    "Richard",
    "Michaud",
    "Hébert",
    "Desjardins",
    "Couture",
    "Smith",
    "Brown",
    "Wilson",
    "MacDonald",
    "Taylor",
    "Campbell",
    "Anderson",
    "Johnson",
    "Thompson",
    "Singh",
    "Patel",
    "Nguyen",
    "Li",
    "Wang",
    "Chen",
    "Kim",
    "Wong",
    "Lee",
    "Ahmed",
    "Khan",
    "Ali",
    "Martinez",
    "Garcia",
    "Rossi",
    "Silva",
    "Murphy",
    "Kelly",
    "Walsh",
    "Ryan",
    "OBrien",
    "Byrne",
    "Doyle",
    "Kennedy",
    "Lynch",
    "Stewart",
    "Robertson",
    "Scott",
    "Reid",
    "Ross",
    "Fraser",
    "Graham",
]


def admin_sql(db_url: str, *statements: str) -> None:
    import psycopg

    parts = urlsplit(db_url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def columns(table: str) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
            " AND column_name <> 'id' ORDER BY ordinal_position",
            [table],
        )
        return [row[0] for row in cursor.fetchall()]


def clone(table: str, template_id: int, overrides: dict[str, str], source: str) -> None:
    """INSERT copies of one row of ``table``, one per row of ``source`` (aliased ``s``), with
    ``overrides`` (column → SQL expression) and every other column as in the template ``t``."""
    from django.db import connection

    cols = columns(table)
    select = ", ".join(overrides.get(c, f't."{c}"') for c in cols)
    names = ", ".join(f'"{c}"' for c in cols)
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" ({names}) SELECT {select} FROM "{table}" t, {source}'
            f" WHERE t.id = {int(template_id)}"
        )


def sql_array(words: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + w.replace("'", "''") + "'" for w in words) + "]"


def make_template():
    """One company, customer and sent invoice made through the ORM: the rows to copy."""
    from tests.factories import CompanyFactory, CustomerFactory, InvoiceFactory

    company = CompanyFactory(name="Template Plumbing", slug="template-bench")
    customer = CustomerFactory(company=company, name="Template Customer")
    invoice = InvoiceFactory(company=company, customer=customer)
    return company, customer, invoice


def grow(
    template, companies: int, *, per_company: int = CUSTOMERS_PER_COMPANY, prefix: str = "bench-"
) -> None:
    """Bring the database to ``companies`` bench companies named ``prefix…`` (besides the
    template's), each with ``per_company`` customers and 10 invoices per customer."""
    from django.db import connection, transaction

    from crewcommand.models import Company

    company, customer, invoice = template
    have = Company.objects.filter(slug__startswith=prefix).count()
    if companies <= have:
        return
    first, last = sql_array(FIRST), sql_array(LAST)
    with transaction.atomic():
        clone(
            "crewcommand_company",
            company.pk,
            {
                "public_id": f"'{prefix[:3]}' || s.g",
                "name": "'Company ' || s.g || ' Plumbing'",
                "slug": f"'{prefix}' || s.g",
                "email": "'office' || s.g || '@example.com'",
            },
            f"generate_series({have + 1}, {companies}) AS s(g)",
        )
        new_companies = (
            f"(SELECT id FROM crewcommand_company WHERE slug LIKE '{prefix}%%' AND id >"
            " (SELECT coalesce(max(company_id), 0) FROM crewcommand_customer"
            " WHERE public_id LIKE 'bu%%'))"
        )
        clone(
            "crewcommand_customer",
            customer.pk,
            {
                "public_id": "'bu' || s.company_id || '-' || s.k",
                "company_id": "s.company_id",
                "name": f"({first})[1 + (s.company_id * 7 + s.k * 13) % {len(FIRST)}] || ' ' || "
                f"({last})[1 + (s.company_id * 31 + s.k * 17) % {len(LAST)}]",
                "email": "'c' || s.company_id || '-' || s.k || '@example.com'",
            },
            f"(SELECT c.id AS company_id, k FROM {new_companies} c,"
            f" generate_series(1, {per_company}) AS k) AS s",
        )
        clone(
            "documents_invoice",
            invoice.pk,
            {
                "public_id": "'bi' || s.customer_id || '-' || s.k",
                "company_id": "s.company_id",
                "customer_id": "s.customer_id",
                "job_id": "NULL",
                "estimate_id": "NULL",
                "number": "s.rn",
            },
            "(SELECT u.id AS customer_id, u.company_id, k, row_number() OVER"
            " (PARTITION BY u.company_id ORDER BY u.id, k) AS rn FROM crewcommand_customer u,"
            f" generate_series(1, {INVOICES_PER_CUSTOMER}) AS k WHERE u.public_id LIKE 'bu%%'"
            " AND u.company_id NOT IN (SELECT DISTINCT company_id FROM documents_invoice"
            " WHERE public_id LIKE 'bi%%')) AS s",
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def measure(n: int, seed: int, prefix: str = "bench-") -> dict[str, object]:
    from django.core.paginator import Paginator
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crewcommand.lib.listing import PAGE_SIZE
    from crewcommand.models import Company
    from documents.selectors import invoice_list

    rng = random.Random(seed)
    ids = list(Company.objects.filter(slug__startswith=prefix).values_list("pk", flat=True))
    invoices = CUSTOMERS_PER_COMPANY * INVOICES_PER_CUSTOMER
    results: dict[str, object] = {}
    slowest: tuple[float, str] = (0.0, "")
    for kind in ("number", "name"):
        times, db_times, counts, queries = [], [], [], set()
        for i in range(n + 5):
            company = Company.objects.get(pk=rng.choice(ids))
            if kind == "number":
                query = f"INV-{rng.randint(1, min(invoices, 9999)):04d}"
            else:
                query = rng.choice(LAST).lower()
            with CaptureQueriesContext(connection) as captured:
                start = time.perf_counter()
                page = Paginator(invoice_list(company=company, query=query), PAGE_SIZE).get_page(1)
                rows = list(page.object_list)
                elapsed = (time.perf_counter() - start) * 1000
            if i < 5:  # warm-up
                continue
            times.append(elapsed)
            db_times.append(sum(server_ms(q["sql"]) for q in captured))
            counts.append(page.paginator.count)
            queries.add(len(captured))
            if db_times[-1] > slowest[0]:
                slowest = (db_times[-1], captured[-1]["sql"])
            assert all(r.company_id == company.pk for r in rows)
        results[kind] = (
            statistics.median(times),
            p95(times),
            statistics.mean(counts),
            sorted(queries),
            statistics.median(db_times),
            p95(db_times),
        )
    results["slowest"] = slowest
    return results


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def server_ms(sql: str) -> float:
    """The database's own time for one query (planning + execution, EXPLAIN ANALYZE): the
    figure a busy shared machine disturbs least."""
    total = 0.0
    for line in explain(sql).splitlines():
        if line.startswith(("Planning Time:", "Execution Time:")):
            total += float(line.split(":")[1].split()[0])
    return total


def explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", type=int, nargs="+", default=[10, 1000], help="companies")
    parser.add_argument("-n", type=int, default=40, help="searches per kind and stage (40)")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument(
        "--big-tenant",
        type=int,
        default=20000,
        metavar="CUSTOMERS",
        help="then one company this big (20000; 0: none)",
    )
    parser.add_argument(
        "--without-trigram", action="store_true", help="drop the trigram index (the before figure)"
    )
    args = parser.parse_args()

    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith("postgres"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database (its server hosts the bench)")
    parts = urlsplit(base_url)
    dbname = parts.path.lstrip("/") + "_search"
    db_url = urlunsplit(parts._replace(path="/" + dbname))
    admin_sql(
        db_url, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)', f'CREATE DATABASE "{dbname}"'
    )
    os.environ.update(
        DATABASE_URL=db_url,
        DJANGO_SETTINGS_MODULE="crewcommand.settings",
        CREWCOMMAND_TESTING="true",
        DATABASE_POOL="false",
    )
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    try:
        call_command("migrate", verbosity=0, interactive=False)
        template = make_template()
        if args.without_trigram:
            with connection.cursor() as cursor:
                cursor.execute("DROP INDEX IF EXISTS customer_company_name_trgm")
        print("p50 / p95 ms per search (count + first page), in the app (wall) and in PostgreSQL")
        print(
            f"{'invoices':>10} {'build s':>7} | {'by number: app':>15} {'db':>11} {'rows':>4} | "
            f"{'by name: app':>15} {'db':>11} {'rows':>4} | queries"
        )
        slowest: tuple[float, str] = (0.0, "")
        for stage, companies in enumerate(args.stages):
            start = time.perf_counter()
            grow(template, companies)
            built = time.perf_counter() - start
            total = companies * CUSTOMERS_PER_COMPANY * INVOICES_PER_CUSTOMER
            r = measure(args.n, seed=stage)
            num, name = r["number"], r["name"]
            print(
                f"{total:>10,} {built:>7.0f} | {num[0]:>6.1f} / {num[1]:>6.1f} "
                f"{num[4]:>4.1f} / {num[5]:>4.1f} {num[2]:>4.0f} | {name[0]:>6.1f} / {name[1]:>6.1f} "
                f"{name[4]:>4.1f} / {name[5]:>4.1f} {name[2]:>4.0f} | {num[3]} {name[3]}"
            )
            slowest = r["slowest"]
        if args.big_tenant:
            start = time.perf_counter()
            grow(template, 1, per_company=args.big_tenant, prefix="big-")
            built = time.perf_counter() - start
            r = measure(args.n, seed=99, prefix="big-")
            num, name = r["number"], r["name"]
            print(
                f"one company with {args.big_tenant:,} customers,"
                f" {args.big_tenant * INVOICES_PER_CUSTOMER:,} invoices (built in {built:.0f} s):\n"
                f"{'':>18} | {num[0]:>6.1f} / {num[1]:>6.1f} "
                f"{num[4]:>4.1f} / {num[5]:>4.1f} {num[2]:>4.0f} | {name[0]:>6.1f} / {name[1]:>6.1f} "
                f"{name[4]:>4.1f} / {name[5]:>4.1f} {name[2]:>4.0f} | {num[3]} {name[3]}"
            )
            slowest = r["slowest"]
        print(
            f"\nslowest search at the last stage ({slowest[0]:.1f} ms in PostgreSQL), its page query:"
        )
        print(explain(slowest[1]))
    finally:
        connection.close()
        if not args.keep:
            admin_sql(db_url, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
