"""Playwright on Debian's Chromium (browser downloads are impossible here and unnecessary)."""

from __future__ import annotations

import pytest

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "en-CA", "timezone_id": "America/Toronto"}


@pytest.fixture
def csp_violations(page):
    """Collects console errors, so a test can assert the strict CSP blocked nothing."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


@pytest.fixture
def login_as(live_server, page):
    """Sign a member in by session cookie (the login form has its own test)."""
    from django.conf import settings
    from django.test import Client

    def login(member):
        client = Client()
        client.force_login(member.user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        page.context.add_cookies(
            [{"name": cookie.key, "value": cookie.value, "url": live_server.url}]
        )
        return page

    return login


@pytest.fixture
def login_without_js(live_server, browser, browser_context_args):
    """Sign a member in (by session cookie) in a Chromium context with JavaScript turned off:
    every page and action must work as plain links and forms."""
    from django.conf import settings
    from django.test import Client

    contexts = []

    def login(member):
        context = browser.new_context(**browser_context_args, java_script_enabled=False)
        contexts.append(context)
        client = Client()
        client.force_login(member.user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
        return context.new_page()

    yield login
    for context in contexts:
        context.close()
