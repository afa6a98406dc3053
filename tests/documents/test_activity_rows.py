"""Timeline rows about a customer's things come from one helper,
``crewcommand.lib.activity.record_about``: a row names a document by its number, carries the
target's company and customer, and a burst of edits by one person stays one row."""

from __future__ import annotations

from crewcommand.lib import activity
from crewcommand.lib.activity import Actor
from crewcommand.models import Activity
from tests.factories import LineItemFactory


def test_a_burst_of_edits_by_one_person_is_one_row_and_another_persons_edit_its_own(
    draft_estimate, actor, office
):
    LineItemFactory(doc=draft_estimate, actor=actor)
    LineItemFactory(doc=draft_estimate, actor=actor, description="Parts")
    assert Activity.objects.filter(verb="estimate.updated").count() == 1

    LineItemFactory(doc=draft_estimate, actor=Actor.member(office.user), description="Disposal")
    assert Activity.objects.filter(verb="estimate.updated").count() == 2


def test_a_row_about_a_document_names_its_number_and_carries_its_company_and_customer(
    draft_invoice,
):
    invoice = draft_invoice
    row = Activity.objects.get(verb="invoice.created")
    assert row.data == {"number": invoice.display_number}
    assert row.company_id == invoice.company_id
    assert row.customer_id == invoice.customer_id
    assert row.target == invoice


def test_a_customer_is_its_own_customer_and_a_job_carries_its_customers(customer, job, actor):
    activity.record_about(customer, "customer.updated", actor, data={"name": customer.name})
    activity.record_about(job, "job.updated", actor, data={"title": job.title})

    by_verb = {row.verb: row for row in Activity.objects.all()}
    assert by_verb["customer.updated"].customer_id == customer.pk
    assert by_verb["customer.updated"].data == {"name": customer.name}  # no number: not a document
    assert by_verb["job.updated"].customer_id == job.customer_id == customer.pk
    assert by_verb["job.updated"].company_id == customer.company_id
