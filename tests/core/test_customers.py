from __future__ import annotations

import pytest
from django.urls import reverse

from crewcommand.models import Activity, Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

VALID = {
    "name": "Bob Singh",
    "email": "bob@example.com",
    "phone": "604 555 0102",
    "address_line1": "880 Cedar St",
    "city": "Vancouver",
    "province": "BC",
    "postal_code": "V6B 2K1",
    "notes": "",
}


def test_owner_creates_a_customer_and_activity_is_recorded(owner_client, company):
    response = owner_client.post(reverse("dashboard:customer_create"), VALID)
    customer = Customer.objects.get(company=company, name="Bob Singh")
    assert response.status_code == 302
    assert response["Location"] == customer.get_absolute_url()
    activity = Activity.objects.get(verb="customer.created")
    assert activity.customer == customer
    assert "Bob Singh" in activity.description


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "This field is required"),
        ("name", "x" * 5000, "at most 150 characters"),
        ("email", "not-an-email", "valid email"),
        ("phone", "12", "area code"),
        ("phone", "<script>alert(1)</script>", "area code"),
        ("postal_code", "90210", "Canadian postal code"),
        ("province", "XX", "valid choice"),
        ("notes", "n" * 6000, "at most 5000 characters"),
    ],
)
def test_bad_customer_input_gets_a_clear_message_and_changes_nothing(
    owner_client, field, value, message
):
    response = owner_client.post(reverse("dashboard:customer_create"), {**VALID, field: value})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Customer.objects.exists()


def test_edit_customer(owner_client, customer):
    url = reverse("dashboard:customer_edit", args=[customer.public_id])
    response = owner_client.post(url, {**VALID, "name": "Alice T."})
    customer.refresh_from_db()
    assert response.status_code == 302
    assert customer.name == "Alice T."


def test_search_returns_the_results_partial_for_htmx(owner_client, company):
    CustomerFactory(company=company, name="Zed Zebra")
    CustomerFactory(company=company, name="Amy Apple")
    response = owner_client.get(
        reverse("dashboard:customer_list"), {"q": "zebra"}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert "Zed Zebra" in body and "Amy Apple" not in body
    assert "<html" not in body  # only the #results partial


def test_customer_list_query_count_is_constant(
    owner_client, company, django_assert_max_num_queries
):
    CustomerFactory.create_batch(3, company=company)
    with django_assert_max_num_queries(8) as few:
        owner_client.get(reverse("dashboard:customer_list"))
    CustomerFactory.create_batch(30, company=company)
    with django_assert_max_num_queries(len(few.captured_queries)):
        owner_client.get(reverse("dashboard:customer_list"))


def test_wrong_method_is_405(owner_client, customer):
    assert owner_client.post(reverse("dashboard:customer_list")).status_code == 405
    assert owner_client.delete(customer.get_absolute_url()).status_code == 405


def test_page_parameter_garbage_does_not_500(owner_client):
    for page in ("abc", "-1", "99999", "1" * 50):
        assert (
            owner_client.get(reverse("dashboard:customer_list"), {"page": page}).status_code == 200
        )


def test_pagination_links_keep_the_search_and_filters(owner_client, company):
    CustomerFactory.create_batch(30, company=company, name="Zed Zebra")
    body = owner_client.get(reverse("dashboard:customer_list"), {"q": "zebra"}).content.decode()
    assert 'href="?q=zebra&amp;page=2"' in body
