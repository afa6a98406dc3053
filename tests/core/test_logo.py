"""Company logos: a decompression bomb or a non-image is refused before its pixels are decoded,
an accepted logo is stored as a small PNG without metadata, and PDFs never decode a huge one
(a 12,000 x 12,000 PNG of 140 KB made every PDF take seconds and most of a gigabyte)."""

from __future__ import annotations

import functools
import io
from pathlib import Path

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image, PngImagePlugin
from pypdf import PdfReader

from crewcommand.lib.activity import Actor
from crewcommand.lib.images import LOGO_MAX_SIDE
from crewcommand.models import Company
from documents import pdf
from documents import services as documents
from tests.factories import LineItemFactory

pytestmark = pytest.mark.django_db

SETTINGS_FIELDS = {
    "name": "Maple Plumbing",
    "province": "ON",
    "timezone": "America/Toronto",
    "brand_color": "#0f766e",
    "portal_link_days": "60",
    "default_language": "en-ca",
    "quiet_hours_start": "21:00",
    "quiet_hours_end": "09:00",
}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@functools.cache
def bomb_png() -> bytes:
    """12,000 x 12,000 pixels of one colour: 140 KB on disk, 576 MB once decoded."""
    image = Image.new("P", (12000, 12000), 0)
    image.putpalette([200, 30, 30] * 256)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def wide_png(size=(3000, 1000)) -> bytes:
    image = Image.new("RGBA", size, (15, 118, 110, 255))
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Someone's home address")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def upload(owner_client, name: str, content: bytes, content_type: str = "image/png"):
    logo = SimpleUploadedFile(name, content, content_type=content_type)
    return owner_client.post(reverse("dashboard:settings"), {**SETTINGS_FIELDS, "logo": logo})


def stored_files(media: Path) -> list[Path]:
    return [p for p in media.rglob("*") if p.is_file()]


def test_a_12000_pixel_logo_is_refused_with_a_message_and_nothing_changes(
    owner_client, company, media
):
    content = bomb_png()
    assert len(content) < 200_000
    response = upload(owner_client, "huge.png", content)
    assert response.status_code == 200
    body = response.content.decode()
    assert "This image is 12,000 pixels wide and 12,000 tall" in body
    company.refresh_from_db()
    assert not company.logo and company.brand_color != "#0f766e"
    assert stored_files(media) == []


def test_a_3000_by_1000_logo_is_stored_as_a_small_png_without_metadata(
    owner_client, company, media
):
    response = upload(owner_client, "wide logo.png", wide_png())
    assert response.status_code == 302
    company.refresh_from_db()
    assert company.logo.name.startswith("logos/") and company.logo.name.endswith(".png")
    with company.logo.open("rb") as handle:
        stored = Image.open(io.BytesIO(handle.read()))
    assert stored.format == "PNG" and stored.size == (LOGO_MAX_SIDE, 200)
    assert "Author" not in stored.info and "exif" not in stored.info
    assert company.logo.size < 20_000


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("notes.png", b"just some text, not an image", "image/png"),
        (
            "logo.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "image/svg+xml",
        ),
        ("logo.png", wide_png()[:4000], "image/png"),  # truncated mid-stream
        ("logo.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "application/pdf"),
    ],
    ids=["text", "svg-with-script", "truncated-png", "pdf"],
)
def test_what_is_not_a_raster_image_is_refused(
    owner_client, company, media, name, content, content_type
):
    # WeasyPrint, once imported (any PDF rendered in the process), makes Pillow accept
    # truncated images process-wide; the upload check must not depend on import order.
    import weasyprint  # noqa: F401

    response = upload(owner_client, name, content, content_type)
    assert response.status_code == 200
    assert "Upload a PNG, JPEG, GIF or WebP image" in response.content.decode()
    company.refresh_from_db()
    assert not company.logo
    assert stored_files(media) == []


def _invoice_pdf(owner, company) -> bytes:
    customer = company.customers.create(name="Alice Tremblay", email="alice@example.com")
    actor = Actor.member(owner.user)
    invoice = documents.invoice_create(company=company, customer=customer, actor=actor)
    LineItemFactory(doc=invoice, actor=actor)
    return pdf.render_invoice_pdf(invoice=invoice)


def test_a_pdf_embeds_the_stored_logo_at_its_small_size(owner, owner_client, company):
    upload(owner_client, "wide.png", wide_png())
    company.refresh_from_db()
    data = _invoice_pdf(owner, company)
    (image,) = PdfReader(io.BytesIO(data)).pages[0].images
    assert image.image.size == (LOGO_MAX_SIDE, 200)
    assert len(data) < 100_000


def test_a_huge_logo_stored_before_the_check_is_not_decoded_for_a_pdf(owner, company, caplog):
    company.logo.save("huge.png", ContentFile(bomb_png()), save=True)
    data = _invoice_pdf(owner, company)
    assert len(PdfReader(io.BytesIO(data)).pages[0].images) == 0
    assert "logo too large to render" in caplog.text


def test_the_migration_shrinks_stored_logos_and_unsets_bombs(company, media):
    from importlib import import_module

    migration = import_module("crewcommand.migrations.0002_reencode_company_logos")
    other = Company.objects.create(name="Rival", slug="rival-logo", province="ON")
    company.logo.save("wide.png", ContentFile(wide_png()), save=True)
    other.logo.save("huge.png", ContentFile(bomb_png()), save=True)

    migration.reencode_logos(apps, None)

    company.refresh_from_db()
    other.refresh_from_db()
    with company.logo.open("rb") as handle:
        assert Image.open(io.BytesIO(handle.read())).size == (LOGO_MAX_SIDE, 200)
    assert not other.logo
    assert (media / "logos" / "huge.png").is_file()  # unset, never deleted


def test_staff_uploading_a_logo_in_the_admin_get_the_same_checks(admin_client, company, media):
    url = reverse("admin:crewcommand_company_change", args=[company.pk])
    data = {
        **SETTINGS_FIELDS,
        "slug": company.slug,
        "members-TOTAL_FORMS": "0",
        "members-INITIAL_FORMS": "0",
        "logo": SimpleUploadedFile("huge.png", bomb_png(), content_type="image/png"),
    }
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "12,000 pixels wide" in response.content.decode()
    company.refresh_from_db()
    assert not company.logo
    body = admin_client.get(url).content.decode()
    assert 'name="name"' in body and 'name="province"' in body and 'name="logo"' in body


def test_a_phone_photo_logo_is_stored_upright_without_its_exif_and_profile(
    owner_client, company, media
):
    photo = Image.new("RGB", (2000, 1000), (15, 118, 110))
    exif = photo.getexif()
    exif[0x010E] = "Taken at 12 Elm St"  # ImageDescription
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", exif=exif, icc_profile=b"profile" * 10)
    assert upload(owner_client, "photo.jpg", buffer.getvalue(), "image/jpeg").status_code == 302
    company.refresh_from_db()
    assert company.logo.name.endswith(".png")
    with company.logo.open("rb") as handle:
        stored = Image.open(io.BytesIO(handle.read()))
    assert stored.size == (300, LOGO_MAX_SIDE)
    assert stored.info == {} and not stored.getexif()
