"""Mail for the company itself (a payment came in, a customer signed) follows one rule,
``crewcommand.notifications.company_recipients``: the company's address, else every owner."""

from __future__ import annotations

import pytest

from crewcommand.models import Role
from crewcommand.notifications import company_recipients
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def _owners_and_staff(company):
    MemberFactory(company=company, role=Role.OWNER, user__email="zoe@maple.example")
    MemberFactory(company=company, role=Role.OWNER, user__email="adam@maple.example")
    MemberFactory(company=company, role=Role.OWNER, user__email="", user__username="no-mail")
    MemberFactory(company=company, role=Role.OFFICE, user__email="office@maple.example")
    MemberFactory(company=company, role=Role.TECHNICIAN, user__email="tech@maple.example")


def test_the_company_address_when_it_has_one(company):
    _owners_and_staff(company)
    company.email = "billing@maple.example"
    assert company_recipients(company) == ["billing@maple.example"]


def test_else_every_owner_with_an_address_and_nobody_else(company, outsider):
    _owners_and_staff(company)
    company.email = ""
    assert company_recipients(company) == ["adam@maple.example", "zoe@maple.example"]


def test_no_address_at_all(company):
    company.email = ""
    assert company_recipients(company) == []
