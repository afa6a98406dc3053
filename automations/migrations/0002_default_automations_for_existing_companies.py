"""Give every company that existed before automations the default ones (new companies get them
when created: ``automations.receivers.company_created``). Idempotent by each default's key."""

import datetime as dt

from django.db import migrations


def backfill(apps, schema_editor):
    from automations.defaults import rows_for

    Company = apps.get_model("crewcommand", "Company")
    Automation = apps.get_model("automations", "Automation")
    from crewcommand.lib.ids import new_public_id

    rows = []
    for company_id in Company.objects.values_list("pk", flat=True).iterator():
        for row in rows_for(company_id):
            unit = dt.timedelta(days=1) if row["wait_unit"] == "days" else dt.timedelta(hours=1)
            rows.append(
                Automation(public_id=new_public_id(), offset=row["wait"] * unit, **row)
            )
    Automation.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("automations", "0001_automations_and_runs"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
