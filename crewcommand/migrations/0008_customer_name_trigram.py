"""Trigram search on customer names, led by the company (PostgreSQL only).

``pg_trgm`` gives the ``gin_trgm_ops`` operator class that lets ``UPPER(name) LIKE '%Q%'`` (what
``name__icontains`` is) use an index; ``btree_gin`` lets the same GIN index start with
``company_id``, so a search never leaves the tenant's entries. SQLite (the embedded default) has
neither: there the extensions and the index are skipped and only the migration state records
the index (``makemigrations --check`` stays clean on both).
"""

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.contrib.postgres.operations import BtreeGinExtension, TrigramExtension
from django.db import migrations, models


class AddIndexOnPostgres(migrations.AddIndex):
    """``AddIndex`` that only touches a PostgreSQL database (state changes everywhere)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [
        ("crewcommand", "0007_message_handed_at_requeued_at"),
    ]

    operations = [
        # Both are no-ops on databases other than PostgreSQL.
        TrigramExtension(),
        BtreeGinExtension(),
        AddIndexOnPostgres(
            model_name="customer",
            index=django.contrib.postgres.indexes.GinIndex(
                models.F("company"),
                django.contrib.postgres.indexes.OpClass(
                    django.db.models.functions.text.Upper("name"), name="gin_trgm_ops"
                ),
                name="customer_company_name_trgm",
            ),
        ),
    ]
