"""Seal the signatures made before records were sealed.

Those rows carried only an unkeyed SHA-256 stored next to the data, so anyone with database
access could have changed them and re-hashed. Sealing them now (with the key configured when
this migration runs) makes any change from now on detectable; it proves nothing about what
happened before. The rows are marked ``sealed_retroactively`` with ``sealed_at`` = now (both
inside the seal), and the dashboard says so beside "Verified".

Uses ``portal.seal`` as it is in this release: the seal format is versioned
(``crewcommand.signature-seal.v1``) so that a later format change adds a new version rather
than changing what this migration computed.
"""

from __future__ import annotations

from django.db import migrations
from django.utils import timezone


def seal_existing(apps, schema_editor) -> None:
    from portal import seal

    Signature = apps.get_model("portal", "Signature")
    now = timezone.now()
    for signature in Signature.objects.filter(seal="").order_by("pk").iterator():
        signature.sealed_at = now
        signature.sealed_retroactively = True
        signature.seal_key_id, signature.seal = seal.seal(signature)
        signature.save(update_fields=["sealed_at", "sealed_retroactively", "seal_key_id", "seal"])


class Migration(migrations.Migration):
    dependencies = [("portal", "0002_signature_seal")]

    operations = [migrations.RunPython(seal_existing, migrations.RunPython.noop)]
