"""pytest plugin: fake Stripe/Twilio/QuickBooks servers and real SDK clients aimed at them.

Enable it from the root conftest with ``pytest_plugins = ["tests.fakes.fixtures"]``.

Each fake runs once per test session on a free loopback port (``*_server`` fixtures);
the function-scoped ``fake_stripe``/``fake_twilio``/``fake_quickbooks`` fixtures hand out
that same server after ``reset()``, and fail the test if the fake itself crashed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import stripe
from intuitlib.client import AuthClient
from quickbooks import QuickBooks
from twilio.rest import Client as TwilioClient

from .base import FakeServer, WebhookSink
from .quickbooks_server import CLIENT_ID, CLIENT_SECRET, QuickBooksFake, point_quickbooks_at
from .smtp_server import SmtpFake
from .stripe_server import StripeFake
from .twilio_server import BaseUrlTwilioHttpClient, TwilioFake

if TYPE_CHECKING:
    from stripe._base_address import BaseAddresses

STRIPE_TEST_KEY = "sk_test_fake"
QUICKBOOKS_REDIRECT_URI = "http://testserver/integrations/quickbooks/callback"
QUICKBOOKS_MINOR_VERSION = 75


def stripe_base_addresses(url: str) -> BaseAddresses:
    """Every base address the stripe SDK knows, so no call can leak to stripe.com."""
    return {"api": url, "connect": url, "files": url, "meter_events": url}


def _fresh[T: FakeServer](server: T) -> Iterator[T]:
    server.reset()
    yield server
    if server.errors:
        pytest.fail(f"{type(server).__name__} crashed:\n" + "\n".join(server.errors))


# -- servers ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def fake_stripe_server() -> Iterator[StripeFake]:
    with StripeFake() as server:
        yield server


@pytest.fixture(scope="session")
def fake_twilio_server() -> Iterator[TwilioFake]:
    with TwilioFake() as server:
        yield server


@pytest.fixture(scope="session")
def fake_quickbooks_server() -> Iterator[QuickBooksFake]:
    # requests-oauthlib refuses to send OAuth tokens over http:// without this; the fake
    # is plain http on loopback. Set for the whole session so app code under test works too.
    with pytest.MonkeyPatch.context() as patch, QuickBooksFake() as server:
        patch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
        yield server


@pytest.fixture(scope="session")
def webhook_sink_server() -> Iterator[WebhookSink]:
    with WebhookSink() as server:
        yield server


@pytest.fixture
def fake_stripe(fake_stripe_server: StripeFake) -> Iterator[StripeFake]:
    yield from _fresh(fake_stripe_server)


@pytest.fixture
def fake_twilio(fake_twilio_server: TwilioFake) -> Iterator[TwilioFake]:
    yield from _fresh(fake_twilio_server)


@pytest.fixture(scope="session")
def fake_smtp_server() -> Iterator[SmtpFake]:
    with SmtpFake() as server:
        yield server


@pytest.fixture
def fake_smtp(fake_smtp_server: SmtpFake) -> Iterator[SmtpFake]:
    """A plain SMTP server on loopback; ``.received`` holds the messages it accepted."""
    fake_smtp_server.reset()
    yield fake_smtp_server
    fake_smtp_server.reset()


@pytest.fixture
def fake_quickbooks(fake_quickbooks_server: QuickBooksFake) -> Iterator[QuickBooksFake]:
    yield from _fresh(fake_quickbooks_server)


@pytest.fixture
def webhook_sink(webhook_sink_server: WebhookSink) -> Iterator[WebhookSink]:
    """Records whatever is POSTed to it and answers ``.status`` (200 by default)."""
    yield from _fresh(webhook_sink_server)


# -- real SDK clients -------------------------------------------------------------------------


@pytest.fixture
def stripe_client(fake_stripe: StripeFake) -> stripe.StripeClient:
    # No retries: a failing call should fail the test at once, not after backoff sleeps.
    return stripe.StripeClient(
        STRIPE_TEST_KEY,
        base_addresses=stripe_base_addresses(fake_stripe.url),
        max_network_retries=0,
    )


@pytest.fixture
def twilio_client(fake_twilio: TwilioFake) -> TwilioClient:
    return TwilioClient(
        fake_twilio.account_sid,
        fake_twilio.auth_token,
        http_client=BaseUrlTwilioHttpClient(fake_twilio.url, timeout=10),
    )


@pytest.fixture
def quickbooks_realm(fake_quickbooks: QuickBooksFake) -> str:
    """A fresh company (Canadian, seeded chart of accounts and tax codes)."""
    return fake_quickbooks.create_company()


@pytest.fixture
def quickbooks_auth_client(fake_quickbooks: QuickBooksFake, quickbooks_realm: str) -> AuthClient:
    """An intuitlib AuthClient holding a refresh token for ``quickbooks_realm``."""
    tokens = fake_quickbooks.issue_tokens(quickbooks_realm)
    return AuthClient(
        CLIENT_ID,
        CLIENT_SECRET,
        QUICKBOOKS_REDIRECT_URI,
        environment=fake_quickbooks.discovery_url,
        refresh_token=tokens["refresh_token"],
        realm_id=quickbooks_realm,
    )


@pytest.fixture
def quickbooks_client(
    fake_quickbooks: QuickBooksFake, quickbooks_auth_client: AuthClient, quickbooks_realm: str
) -> QuickBooks:
    """A python-quickbooks client; creating it spends the refresh token (rotation)."""
    client = QuickBooks(
        auth_client=quickbooks_auth_client,
        refresh_token=quickbooks_auth_client.refresh_token,
        company_id=quickbooks_realm,
        minorversion=QUICKBOOKS_MINOR_VERSION,
        use_decimal=True,
    )
    return point_quickbooks_at(client, fake_quickbooks.api_url_v3)
