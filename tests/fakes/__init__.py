"""Loopback fakes of Stripe, Twilio and Intuit/QuickBooks that the real SDKs talk to.

Nothing here reaches the internet. Use via the pytest plugin ``tests.fakes.fixtures``.
How each real SDK is aimed at a fake (the same knobs serve production settings):

* stripe: ``stripe.StripeClient(key, base_addresses={"api": url, "connect": url,
  "files": url, "meter_events": url})`` — see ``stripe_server``.
* twilio: ``twilio.rest.Client(sid, token, http_client=BaseUrlTwilioHttpClient(url))``,
  a ``TwilioHttpClient`` subclass that rewrites ``https://*.twilio.com`` — see
  ``twilio_server``.
* intuitlib: ``AuthClient(..., environment=f"{url}/.well-known/openid-configuration")``;
  python-quickbooks: set ``client.api_url_v3`` and ``client.sandbox_api_url_v3`` to
  ``f"{url}/v3"`` (``point_quickbooks_at``), with ``OAUTHLIB_INSECURE_TRANSPORT=1`` because
  the fake is plain http — see ``quickbooks_server``.

``data/stripe_objects.json`` holds Stripe's example objects (MIT, ``data/STRIPE-LICENSE``).
"""
