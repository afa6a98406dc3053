"""Tenancy: a contractor reaches only their own company's rows; any other id is a 404."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.urlwalk import contractor_routes, dashboard_objects, url_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def company_a_objects(owner, customer, job):
    """One object of every kind a dashboard URL can name, all owned by company A."""
    return dashboard_objects(owner=owner, customer=customer, job=job)


_url = url_for


def test_every_dashboard_url_with_an_id_is_404_for_another_company(
    company_a_objects, outsider_client
):
    checked = 0
    for route in contractor_routes():
        if not route.kwargs:
            continue
        url = _url(route, company_a_objects)
        for method in ("get", "post"):
            response = getattr(outsider_client, method)(url)
            assert response.status_code in {404, 405}, (route.name, method, response.status_code)
        checked += 1
    assert checked >= 6


def test_same_urls_work_for_the_owning_company(company_a_objects, owner_client):
    for route in contractor_routes():
        if not route.kwargs:
            continue
        response = owner_client.get(_url(route, company_a_objects))
        assert response.status_code in {200, 302, 405}, (route.name, response.status_code)


def test_lists_show_only_own_company_rows(customer, job, outsider_client):
    for name in ("dashboard:customer_list", "dashboard:job_list", "dashboard:home"):
        body = outsider_client.get(reverse(name)).content.decode()
        assert customer.name not in body
        assert job.title not in body


def test_malformed_ids_are_404_not_500(owner_client):
    for bad in ("1", "abc", "x" * 300, "%00", "../admin", "ABCDEFGHIJKLMN"):
        response = owner_client.get(f"/app/customers/{bad}/")
        assert response.status_code == 404, bad


def test_anonymous_users_are_sent_to_login(client):
    for route in contractor_routes():
        if route.kwargs:
            continue
        response = client.get(reverse(route.name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_a_user_without_a_company_is_sent_to_signup(client, django_user_model):
    user = django_user_model.objects.create_user("loner@example.com", "loner@example.com", "pw")
    client.force_login(user)
    assert client.get(reverse("dashboard:home"))["Location"] == reverse("signup")


def test_office_members_cannot_open_owner_settings(office_client):
    assert office_client.get(reverse("dashboard:settings")).status_code == 403
    assert office_client.get(reverse("dashboard:team")).status_code == 403


def test_job_form_rejects_another_companys_customer(owner_client, outsider):
    from tests.factories import CustomerFactory

    foreign = CustomerFactory(company=outsider.company)
    response = owner_client.post(
        reverse("dashboard:job_create"),
        {"customer": foreign.public_id, "title": "Steal", "status": "requested"},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not foreign.jobs.exists()
