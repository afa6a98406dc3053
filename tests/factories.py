from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from crewcommand.models import Company, Customer, Job, Member, Role


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    username = factory.SelfAttribute("email")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("correct-horse-battery")


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Company {n} Plumbing")
    slug = factory.Sequence(lambda n: f"company-{n}")
    province = "ON"
    timezone = "America/Toronto"
    email = factory.Sequence(lambda n: f"office{n}@example.com")


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    user = factory.SubFactory(UserFactory)
    company = factory.SubFactory(CompanyFactory)
    role = Role.OWNER


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    company = factory.SubFactory(CompanyFactory)
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    phone = "416 555 0199"
    address_line1 = "12 Maple Ave"
    city = "Toronto"
    province = "ON"
    postal_code = "M4C 1A1"


class JobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Job

    company = factory.SelfAttribute("customer.company")
    customer = factory.SubFactory(CustomerFactory)
    title = factory.Sequence(lambda n: f"Job {n}")
