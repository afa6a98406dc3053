"""Re-verify estimate signatures against their stored revisions.

    manage.py verify_signature <signature id> [<signature id> …]
    manage.py verify_signature --estimate <estimate public id>
    manage.py verify_signature --all [--company <slug>]

For each signature, every stored field is checked (``portal.services.signature_verify``): the
keyed seal over the whole record (signer, time, IP, browser, image, consent, selection, signed
content), the public SHA-256 of the signed content, the snapshot against the stored revision,
and the estimate's accepted revision and options. Each problem is printed on its own line.
Exits with status 1 if any signature does not verify or is not found.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from portal.models import Signature
from portal.services import signature_verify


class Command(BaseCommand):
    help = "Re-verify estimate signatures: the keyed seal, the signed content and the revision."

    def add_arguments(self, parser) -> None:
        parser.add_argument("signature_ids", nargs="*", help="Signature public ids.")
        parser.add_argument("--estimate", action="append", default=[], help="Estimate public id.")
        parser.add_argument("--all", action="store_true", help="Every signature.")
        parser.add_argument("--company", help="With --all: only this company (slug).")

    def handle(self, *args, **options) -> None:
        qs = Signature.objects.select_related("estimate", "revision", "company", "link").order_by(
            "id"
        )
        if options["all"]:
            if options["company"]:
                qs = qs.filter(company__slug=options["company"])
        elif options["signature_ids"] or options["estimate"]:
            qs = qs.filter(public_id__in=options["signature_ids"]) | qs.filter(
                estimate__public_id__in=options["estimate"]
            )
        else:
            raise CommandError("Name signature ids, --estimate <id>, or --all.")
        signatures = list(qs)
        wanted = len(options["signature_ids"]) + len(options["estimate"])
        failures = 0
        for signature in signatures:
            result = signature_verify(signature=signature)
            label = (
                f"{signature.public_id} {signature.estimate.display_number} "
                f"r{signature.revision.number} ({signature.company.slug}) "
                f"signed by {signature.signer_name}"
            )
            if result.ok:
                self.stdout.write(self.style.SUCCESS(f"OK {label} sha256={result.stored_sha256}"))
            else:
                failures += 1
                self.stdout.write(self.style.ERROR(f"MISMATCH {label}"))
                for problem in result.problems:
                    self.stdout.write(self.style.ERROR(f"  - {problem}"))
        if not options["all"] and len(signatures) < wanted:
            failures += wanted - len(signatures)
            self.stdout.write(self.style.ERROR("Some of the named signatures were not found."))
        if failures:
            raise CommandError(f"{failures} signature(s) failed verification.")
        self.stdout.write(f"{len(signatures)} signature(s) verified.")
