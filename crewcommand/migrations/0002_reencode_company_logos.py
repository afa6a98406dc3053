"""Re-encode the logos stored before uploads were checked and shrunk (issue 8, point 12).

A logo within the stored bound is left alone. A larger one is replaced by the same small PNG an
upload now gets. One that is not a raster image or is a decompression bomb is unset, so PDFs
and the portal show the company's name instead; its file stays in storage, untouched."""

from __future__ import annotations

import logging
from pathlib import PurePath

from django.core.files.base import ContentFile
from django.db import migrations

from crewcommand.lib.images import LogoError, logo_fits, normalise_logo

logger = logging.getLogger(__name__)


def reencode_logos(apps, schema_editor) -> None:
    Company = apps.get_model("crewcommand", "Company")
    for company in Company.objects.exclude(logo="").only("pk", "logo").iterator():
        try:
            with company.logo.open("rb") as handle:
                if logo_fits(handle):
                    continue
                png = normalise_logo(handle)
        except OSError:
            logger.warning("company %s: logo file unreadable, left as is", company.pk)
            continue
        except LogoError:
            logger.warning("company %s: logo refused (%s), unset", company.pk, company.logo.name)
            Company.objects.filter(pk=company.pk).update(logo="")
            continue
        name = f"{PurePath(company.logo.name).stem[:60] or 'logo'}.png"
        company.logo.save(name, ContentFile(png), save=False)
        Company.objects.filter(pk=company.pk).update(logo=company.logo.name)


class Migration(migrations.Migration):
    dependencies = [("crewcommand", "0001_initial")]

    operations = [migrations.RunPython(reencode_logos, migrations.RunPython.noop, elidable=True)]
