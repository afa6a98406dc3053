"""In real Chromium, on seeded data: the dashboard on every screen (issue 12, points 9-11).

Every dashboard page fits a 390 px phone without sideways scrolling; the document lines table
shows its Amount column; toasts cover no control and collapse repeats; stacked cards have
space between them; a payment's refunds table is not clipped at 1280 px and its links are
targets of at least 24x24 px (WCAG 2.2 2.5.8). Screenshots go to $SCREENSHOT_DIR when set."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from billing import services as billing
from billing.models import PaymentMethod
from crewcommand.lib.activity import Actor
from crewcommand.management.commands.seed_demo import DEMO_EMAIL
from crewcommand.models import Company, Customer, Job, Member
from documents.models import Estimate, Invoice

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE, DESKTOP = 390, 1280
LONG_REASON = "Customer overpaid by cheque; the difference was returned the same day"


def _viewport(page, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 844 if width < 600 else 900})


def _shot(page, tmp_path: Path, name: str, *, full_page: bool = True) -> None:
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)


def _scroll_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


@pytest.fixture
def seeded(settings, capsys):
    """``seed_demo``'s company, plus a cheque on an invoice with a refund that has a long reason."""
    settings.DEBUG = True
    call_command("seed_demo")
    company = Company.objects.get(slug="demo")
    owner = Member.objects.get(company=company, user__email=DEMO_EMAIL)
    actor = Actor.member(owner.user)
    invoice = Invoice.objects.filter(company=company).order_by("pk").first()
    payment = billing.payment_record(
        actor=actor,
        amount=Decimal("50.00"),
        method=PaymentMethod.CHEQUE,
        received_on=timezone.localdate(),
        invoice=invoice,
        reference="Cheque 1042",
    )
    billing.refund_create(payment=payment, amount=Decimal("10.00"), actor=actor, reason=LONG_REASON)
    # The demo's SMS automations gave the sent documents a second link (the text's own): the
    # panels' reserved height is for the usual one link, so those are left out here.
    from portal.models import LinkChannel, PortalLink

    PortalLink.objects.filter(company=company, channel=LinkChannel.SMS).delete()
    return {
        "owner": owner,
        "customer": Customer.objects.filter(company=company).order_by("pk").first(),
        "job": Job.objects.filter(company=company).order_by("pk").first(),
        # Drafts: their lines table carries the edit actions, the widest it gets.
        "estimate": Estimate.objects.filter(company=company, status="draft").first(),
        "sent_estimate": Estimate.objects.filter(company=company, status="sent").first(),
        "invoice": Invoice.objects.filter(company=company, status="draft").first(),
        "paid_invoice": invoice,
        "payment": payment,
    }


def _pages(seeded) -> dict[str, str]:
    return {
        "home": reverse("dashboard:home"),
        "customers": reverse("dashboard:customer_list"),
        "customer": seeded["customer"].get_absolute_url(),
        "jobs": reverse("dashboard:job_list"),
        "job": seeded["job"].get_absolute_url(),
        "week": reverse("dashboard:job_week"),
        "estimates": reverse("documents:estimate_list"),
        "estimate": seeded["estimate"].get_absolute_url(),
        "invoices": reverse("documents:invoice_list"),
        "invoice": seeded["invoice"].get_absolute_url(),
        "sent estimate": seeded["sent_estimate"].get_absolute_url(),
        "paid invoice": seeded["paid_invoice"].get_absolute_url(),
        "payments": reverse("billing_dashboard:payment_list"),
        "payment": reverse("billing_dashboard:payment_detail", args=[seeded["payment"].public_id]),
        "settings": reverse("dashboard:settings"),
        "team": reverse("dashboard:team"),
    }


def test_every_dashboard_page_fits_a_phone_without_sideways_scroll(
    live_server, login_as, seeded, tmp_path
):
    page = login_as(seeded["owner"])
    _viewport(page, PHONE)
    too_wide = {}
    for name, url in _pages(seeded).items():
        page.goto(live_server.url + url, wait_until="networkidle")
        width = _scroll_width(page)
        if width > PHONE:
            too_wide[name] = width
        if name in {"estimate", "invoice", "payments", "payment"}:
            _shot(page, tmp_path, f"{name}-{PHONE}")
    assert not too_wide, too_wide


def _amount_visible(page) -> None:
    """Every line's Amount sits inside the lines table's box, not scrolled out of sight."""
    box = page.locator("#line-editor .table-wrap").bounding_box()
    amounts = page.locator("#lines-body td.money:not(.hide-sm)")
    assert amounts.count() > 0
    for i in range(amounts.count()):
        cell = amounts.nth(i).bounding_box()
        assert cell["width"] > 0 and cell["x"] + cell["width"] <= box["x"] + box["width"] + 0.5


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_document_lines_show_their_amount(live_server, login_as, seeded, width, tmp_path):
    page = login_as(seeded["owner"])
    _viewport(page, width)
    for name in ["estimate", "invoice", "sent_estimate"]:
        page.goto(live_server.url + seeded[name].get_absolute_url(), wait_until="networkidle")
        _amount_visible(page)
        assert page.evaluate("document.querySelector('#line-editor .table-wrap').scrollWidth") <= (
            page.evaluate("document.querySelector('#line-editor .table-wrap').clientWidth")
        )
        assert _scroll_width(page) <= width
        _shot(page, tmp_path, f"{name}-{width}")


def _overlaps(a, b) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_toasts_cover_no_header_action_and_repeats_collapse(
    live_server, login_as, seeded, width, tmp_path
):
    page = login_as(seeded["owner"])
    _viewport(page, width)
    page.goto(live_server.url + seeded["estimate"].get_absolute_url(), wait_until="networkidle")
    form = page.locator("form.line-add")
    toasts = page.locator("#toasts .toast:not(.is-leaving)")
    for n in range(3):
        form.get_by_label("Description").fill("Shut-off valve")
        form.get_by_label("Unit price").fill("25")
        with page.expect_response(lambda r: "/lines/" in r.url and r.request.method == "POST"):
            if n == 0:
                form.get_by_role("button", name="Add line").click()
            else:
                # Enter submits without moving the pointer off the toast.
                form.get_by_label("Unit price").press("Enter")
        page.wait_for_load_state("networkidle")
        if n == 0:
            # The pointer rests on the toast, which holds it however slow the next adds are
            # (a loaded CI machine took over its six seconds between two adds).
            toasts.first.hover()
    expect(toasts).to_have_count(1)
    expect(toasts.first).to_contain_text("Line added.")
    expect(toasts.first.locator(".toast-count")).to_have_text("\u00d73")
    page.evaluate("window.scrollTo(0, 0)")
    toast = toasts.first.bounding_box()
    controls = page.locator(
        ".page-header a, .page-header button, .app-topbar a, .app-topbar button"
    )
    for i in range(controls.count()):
        box = controls.nth(i).bounding_box()
        if box and box["width"]:
            assert not _overlaps(toast, box), controls.nth(i).inner_text()
    # Bottom of the screen, clear of the header.
    assert toast["y"] + toast["height"] > page.viewport_size["height"] / 2
    _shot(page, tmp_path, f"toast-{width}", full_page=False)


GAPS = """() => {
  const cards = [...document.querySelectorAll('.app-main .card')].filter(c => c.offsetParent);
  const out = [];
  for (const a of cards) for (const b of cards) {
    if (a === b || a.contains(b) || b.contains(a)) continue;
    const r = a.getBoundingClientRect(), s = b.getBoundingClientRect();
    const gap = s.top - r.bottom;
    if (r.left < s.right - 1 && s.left < r.right - 1 && gap > -1 && gap < 8) out.push(gap);
  }
  return out;
}"""


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_stacked_cards_keep_apart(live_server, login_as, seeded, width):
    page = login_as(seeded["owner"])
    _viewport(page, width)
    touching = {}
    for name, url in _pages(seeded).items():
        page.goto(live_server.url + url, wait_until="networkidle")
        gaps = page.evaluate(GAPS)
        if gaps:
            touching[name] = gaps
    assert not touching, touching


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
@pytest.mark.parametrize("name", ["invoice", "paid_invoice", "estimate", "job", "customer"])
def test_lazy_panels_keep_their_space_while_loading(live_server, login_as, seeded, width, name):
    """The panels' requests are held until the page has been measured without them."""
    page = login_as(seeded["owner"])
    _viewport(page, width)
    held = []
    page.route(
        lambda url: "/payments/" in url or "/links/" in url or "/portal/" in url,
        lambda route: (
            held.append(route) if route.request.headers.get("hx-request") else (route.continue_())
        ),
    )
    page.goto(live_server.url + seeded[name].get_absolute_url(), wait_until="domcontentloaded")
    panels = page.locator(".lazy-panel")
    count = panels.count()
    assert count
    for _ in range(100):
        if len(held) >= count:
            break
        page.wait_for_timeout(50)
    assert len(held) == count
    before = [panels.nth(i).bounding_box()["height"] for i in range(count)]
    for route in held:
        route.continue_()
    page.wait_for_load_state("networkidle")
    expect(panels.locator("> .card")).to_have_count(count)
    after = [panels.nth(i).bounding_box()["height"] for i in range(count)]
    for b, a in zip(before, after, strict=True):
        assert abs(a - b) <= 48, (before, after)


def test_payment_page_shows_its_refunds_whole_and_links_are_big_enough(
    live_server, login_as, seeded, tmp_path
):
    page = login_as(seeded["owner"])
    for width in (PHONE, DESKTOP):
        _viewport(page, width)
        page.goto(live_server.url + _pages(seeded)["payment"], wait_until="networkidle")
        if width == DESKTOP:
            wrap = page.locator("#ref-h").locator("xpath=ancestor::section").locator(".table-wrap")
            assert wrap.evaluate("e => e.scrollWidth <= e.clientWidth")
            expect(page.get_by_text(LONG_REASON)).to_be_visible()
        _shot(page, tmp_path, f"payment-{width}")
        page.goto(live_server.url + _pages(seeded)["payments"], wait_until="networkidle")
        _shot(page, tmp_path, f"payments-{width}")
        # WCAG 2.2 2.5.8: the payments panel's Refund and Details links are 24x24 or more.
        page.goto(live_server.url + seeded["paid_invoice"].get_absolute_url())
        links = page.locator("#billing-panel .plain-list a")
        expect(links.first).to_be_visible()
        assert links.count() >= 2
        for i in range(links.count()):
            box = links.nth(i).bounding_box()
            assert box["width"] >= 24 and box["height"] >= 24, (links.nth(i).inner_text(), box)


def test_a_table_that_scrolls_sideways_can_be_scrolled_from_the_keyboard(
    live_server, login_as, seeded
):
    """A .table-wrap wider than its box takes tabindex=0 (axe: scrollable-region-focusable), and
    the arrow keys scroll it; one that fits stays out of the tab order."""
    company = seeded["owner"].company
    long_email = "accounts-payable.department.long-address@maple-leaf-plumbing.example.ca"
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(
        username=long_email, email=long_email, password="x" * 20
    )
    Member.objects.create(company=company, user=user, role=seeded["owner"].role)
    page = login_as(seeded["owner"])
    _viewport(page, PHONE)
    page.goto(live_server.url + reverse("dashboard:team"), wait_until="networkidle")
    wrap = page.locator(".table-wrap").first
    assert page.evaluate("(el) => el.scrollWidth > el.clientWidth", wrap.element_handle())
    expect(wrap).to_have_attribute("tabindex", "0")
    wrap.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('.table-wrap').scrollLeft > 0")
    _viewport(page, DESKTOP)  # a table that fits stays out of the tab order
    page.goto(live_server.url + reverse("dashboard:customer_list"), wait_until="networkidle")
    wrap = page.locator(".table-wrap").first
    assert page.evaluate("(el) => el.scrollWidth <= el.clientWidth", wrap.element_handle())
    expect(wrap).not_to_have_attribute("tabindex", "0")
