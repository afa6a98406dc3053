"""crewcommand.lib.prepared with ``server=True``: on PostgreSQL the statement is prepared on the
server once per connection (PostgreSQL plans the portal link's query for ~7 ms and runs it in
~0.6) and gives the same rows as the queryset; a statement PostgreSQL refuses to prepare runs
plainly, inside a request's transaction too."""

from __future__ import annotations

import pytest
from django.db import connection, connections, transaction
from django.db.models import CharField, Func, Value
from django.test.utils import CaptureQueriesContext

from crewcommand.lib import prepared as prepared_module
from crewcommand.lib.prepared import _server_statement, prepared
from crewcommand.models import Customer
from portal.models import PortalLink
from tests.factories import CustomerFactory, InvoiceFactory
from tests.portal.helpers import issue

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's PREPARE"),
]


def _on_server() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


def test_statement_numbering_and_percent_signs():
    name, prepare, execute = _server_statement(
        "SELECT a FROM t WHERE b = %s AND c LIKE 'x%%' AND d = %s", 2
    )
    assert prepare == f"PREPARE {name} AS SELECT a FROM t WHERE b = $1 AND c LIKE 'x%' AND d = $2"
    assert execute == f"EXECUTE {name}(%s, %s)"
    with pytest.raises(ValueError):
        _server_statement("SELECT %s", 2)


@pytest.fixture(autouse=True)
def _fresh_connection_statements():
    """Each test starts as on a new connection: no statement prepared, none known."""
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    prepared_module._ON_SERVER.clear()


def test_a_portal_page_prepares_its_link_query_once_per_connection(client, customer):
    invoice = InvoiceFactory(customer=customer, sent=True)
    first = issue(customer, invoice)
    second = issue(customer)
    before = _on_server()
    assert client.get(first.url).status_code in (200, 302)
    made = _on_server() - before
    assert len(made) == 1, made
    assert client.get(second.url).status_code in (200, 302)
    assert client.get(first.url).status_code in (200, 302)
    assert _on_server() - before == made  # reused, not prepared again


def test_preparing_is_not_one_of_the_requests_queries(client, customer):
    link = issue(customer, InvoiceFactory(customer=customer, sent=True))
    with CaptureQueriesContext(connection) as first:
        client.get(link.url)
    with CaptureQueriesContext(connection) as again:
        client.get(link.url)
    assert [q["sql"] for q in first.captured_queries if "PREPARE" in q["sql"]] == []
    assert len(first.captured_queries) == len(again.captured_queries)
    assert any(q["sql"].startswith("EXECUTE cc_") for q in again.captured_queries)


def test_server_prepared_rows_match_the_queryset_and_a_like_pattern_survives(customer):
    links = [issue(customer).link, issue(CustomerFactory(company=customer.company)).link]

    def build(digest):
        return PortalLink.objects.select_related("company", "customer").filter(
            token_hash=digest, customer__name__contains="%"
        )

    Customer.objects.filter(pk=customer.pk).update(name="100% Plumbing")
    lookup = prepared(build, server=True)
    for link in links:
        for _ in range(3):
            got, want = lookup.first(link.token_hash), build(link.token_hash).first()
            assert (got and got.pk) == (want and want.pk)
            if got is not None:
                assert got.customer.name == "100% Plumbing"
    assert lookup.first(links[0].token_hash) is not None
    assert lookup.first(links[1].token_hash) is None
    assert lookup.first("no such hash") is None


def test_a_refused_prepare_runs_plainly_even_inside_a_transaction(customer, caplog):
    # "pg_typeof($1)": PostgreSQL cannot tell the parameter's type, so PREPARE fails.
    lookup = prepared(
        lambda label: Customer.objects.annotate(
            label=Func(Value(label), function="pg_typeof", output_field=CharField())
        ).values_list("label"),
        "\x00placeholder\x00",
        server=True,
    )
    with transaction.atomic():
        rows = lookup.all("hello")
        assert Customer.objects.filter(pk=customer.pk).exists()  # the transaction still works
    assert rows and set(rows) == {("unknown",)}  # what pg_typeof says of a plain literal
    assert set(lookup.all("again")) == {("unknown",)}
    compiled = next(iter(lookup._compiled[connections["default"]].values()))
    assert compiled.server is None  # refused once, then run plainly
    assert "prepared statement refused" in caplog.text


def test_a_connection_that_lost_its_statements_prepares_again(client, customer):
    link = issue(customer, InvoiceFactory(customer=customer, sent=True))
    assert client.get(link.url).status_code in (200, 302)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    prepared_module._ON_SERVER.clear()  # a new connection: nothing known
    assert client.get(link.url).status_code in (200, 302)
    assert any(name.startswith("cc_") for name in _on_server())
