"""The signature seal's contract, checked without the project's own sealing code where it can be.

``scripts/mutation seal`` showed the seal could lose a field, a key could be derived without its
purpose string, or timestamps and IPs stop being normalised, without any test failing. The seal
format is documented in ``portal/seal.py`` so that someone holding the key can check a row with
their own tools: this file recomputes it that way (plain ``hmac`` + ``json``), and tampers with
every sealed field one at a time. No database: the seal takes any object with the attributes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from portal import seal as seal_module

KEY = "k" * 40
OLD_KEY = "o" * 40
SIGNED_AT = dt.datetime(2025, 3, 28, 19, 5, 7, 123456, tzinfo=dt.UTC)
SEALED_AT = dt.datetime(2025, 3, 28, 19, 5, 8, tzinfo=dt.UTC)


def row(**overrides):
    fields = {
        "public_id": "sig_9xQ2",
        "company_id": 7,
        "estimate_id": 11,
        "revision_id": 13,
        "link_reference": "L-7K2Q",
        "signer_name": "Élodie Tremblay",
        "method": "drawn",
        "image_svg": "<svg><path d='M0 0L9 9'/></svg>",
        "signed_at": SIGNED_AT,
        "ip_address": "203.0.113.9",
        "user_agent": "Mozilla/5.0 (iPhone)",
        "consent_text": "I agree to sign electronically.",
        "selection": {"optional": ["ln_a"], "choices": {"tank": "ln_b"}},
        "selection_summary": ["Water heater: 50 gal"],
        "canonical_version": 2,
        "canonical_json": '{"format":"crewcommand.estimate.v2","x":"électrique"}',
        "content_sha256": "ab" * 32,
        "sealed_at": SEALED_AT,
        "sealed_retroactively": False,
        "seal_key_id": "",
        "seal": "",
    }
    fields.update(overrides)
    return SimpleNamespace(**fields)


def independent_payload(sig) -> str:
    """The documented payload, written from the docstring, not from ``seal.payload``."""
    data = {
        "format": "crewcommand.signature-seal.v1",
        "signature": sig.public_id,
        "company": sig.company_id,
        "estimate": sig.estimate_id,
        "revision": sig.revision_id,
        "link_reference": sig.link_reference,
        "signer_name": sig.signer_name,
        "method": sig.method,
        "image_svg": sig.image_svg,
        "signed_at": sig.signed_at.astimezone(dt.UTC).isoformat(),
        "ip_address": sig.ip_address,
        "user_agent": sig.user_agent,
        "consent_text": sig.consent_text,
        "selection": sig.selection,
        "selection_summary": sig.selection_summary,
        "canonical_version": sig.canonical_version,
        "canonical_json": sig.canonical_json,
        "content_sha256": sig.content_sha256,
        "sealed_at": sig.sealed_at.astimezone(dt.UTC).isoformat(),
        "sealed_retroactively": sig.sealed_retroactively,
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sealed(sig):
    sig.seal_key_id, sig.seal = seal_module.seal(sig)
    return sig


@pytest.fixture
def keys(settings):
    settings.SIGNATURE_SEAL_KEY = KEY
    settings.SIGNATURE_SEAL_KEY_FALLBACKS = [OLD_KEY]
    return settings


def test_the_seal_is_the_documented_hmac(keys):
    sig = row()
    key_id, mac = seal_module.seal(sig)
    payload = independent_payload(sig)
    assert seal_module.payload(sig) == payload
    assert "Élodie" in payload and "électrique" in payload  # UTF-8, not \u escapes
    assert mac == hmac.new(KEY.encode(), payload.encode("utf-8"), hashlib.sha256).hexdigest()
    expected_id = hmac.new(
        KEY.encode(), b"crewcommand.signature-seal.key-id", hashlib.sha256
    ).hexdigest()[:16]
    assert key_id == expected_id


TAMPERING = {
    "public_id": "sig_other",
    "company_id": 8,
    "estimate_id": 12,
    "revision_id": 14,
    "link_reference": "L-AAAA",
    "signer_name": "Elodie Tremblay",
    "method": "typed",
    "image_svg": "<svg/>",
    "signed_at": SIGNED_AT + dt.timedelta(microseconds=1),
    "ip_address": "203.0.113.10",
    "user_agent": "curl/8",
    "consent_text": "I agree.",
    "selection": {"optional": [], "choices": {"tank": "ln_b"}},
    "selection_summary": ["Water heater: 40 gal"],
    "canonical_version": 1,
    "canonical_json": '{"format":"crewcommand.estimate.v2","x":"electrique"}',
    "content_sha256": "cd" * 32,
    "sealed_at": SEALED_AT + dt.timedelta(seconds=1),
    "sealed_retroactively": True,
}


@pytest.mark.parametrize("field", sorted(TAMPERING))
def test_changing_any_sealed_field_breaks_the_seal(keys, field):
    sig = sealed(row())
    assert seal_module.check(sig) is None
    setattr(sig, field, TAMPERING[field])
    assert seal_module.check(sig) == "bad-seal"


def test_a_missing_or_empty_seal_is_bad_and_an_unknown_key_is_named(keys):
    sig = sealed(row())
    assert seal_module.check(row(seal_key_id=sig.seal_key_id, seal="")) == "bad-seal"
    assert seal_module.check(row(seal_key_id=sig.seal_key_id, seal=None)) == "bad-seal"
    assert seal_module.check(row(seal_key_id="0" * 16, seal=sig.seal)) == "unknown-key"
    assert seal_module.check(row(seal_key_id=None, seal=sig.seal)) == "unknown-key"


def test_rotation_old_rows_verify_new_rows_use_the_new_key(settings):
    settings.SIGNATURE_SEAL_KEY, settings.SIGNATURE_SEAL_KEY_FALLBACKS = OLD_KEY, []
    old = sealed(row())
    settings.SIGNATURE_SEAL_KEY, settings.SIGNATURE_SEAL_KEY_FALLBACKS = KEY, [OLD_KEY]
    assert seal_module.check(old) is None
    new = sealed(row())
    assert new.seal_key_id != old.seal_key_id
    assert new.seal_key_id == seal_module.key_id(KEY.encode())
    settings.SIGNATURE_SEAL_KEY_FALLBACKS = []
    assert seal_module.check(old) == "unknown-key"
    assert seal_module.check(new) is None


def test_without_a_seal_key_a_purpose_bound_key_is_derived_from_secret_key(settings):
    settings.SIGNATURE_SEAL_KEY, settings.SIGNATURE_SEAL_KEY_FALLBACKS = "", []
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "s" * 50, ["f" * 50]
    derived = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"crewcommand.signature-seal.dev-key.v1",
    ).derive(("s" * 50).encode())
    sig = row()
    key_id, mac = seal_module.seal(sig)
    assert key_id == seal_module.key_id(derived)
    assert mac == hmac.new(derived, independent_payload(sig).encode(), hashlib.sha256).hexdigest()
    assert mac != hmac.new(b"s" * 50, independent_payload(sig).encode(), hashlib.sha256).hexdigest()
    # A row sealed under the previous SECRET_KEY still verifies through the fallbacks.
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "f" * 50, []
    old = sealed(row())
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "s" * 50, ["f" * 50]
    assert seal_module.check(old) is None


def test_the_same_instant_in_another_time_zone_keeps_the_seal(keys):
    sig = sealed(row())
    toronto = ZoneInfo("America/Toronto")
    sig.signed_at = SIGNED_AT.astimezone(toronto)
    sig.sealed_at = SEALED_AT.astimezone(toronto)
    assert seal_module.check(sig) is None
    assert '"signed_at":"2025-03-28T19:05:07.123456+00:00"' in seal_module.payload(sig)


def test_ip_addresses_are_sealed_in_their_normal_form(keys):
    sig = sealed(row(ip_address="2001:DB8:0:0::1"))
    sig.ip_address = "2001:db8::1"
    assert seal_module.check(sig) is None
    assert '"ip_address":"2001:db8::1"' in seal_module.payload(sig)
    # Not an address (an old row, a proxy's junk): sealed as it is, not dropped.
    assert '"ip_address":"unknown"' in seal_module.payload(row(ip_address="unknown"))
    assert '"ip_address":null' in seal_module.payload(row(ip_address=None))
    assert '"ip_address":null' in seal_module.payload(row(ip_address=""))


def test_unsealed_and_unsigned_times_are_null(keys):
    payload = seal_module.payload(row(sealed_at=None, signed_at=None))
    assert '"sealed_at":null' in payload and '"signed_at":null' in payload


def test_selection_summary_items_are_sealed_as_text(keys):
    class Lazy:
        def __str__(self):
            return "Water heater: 50 gal"

    assert seal_module.payload(row(selection_summary=[Lazy()])) == seal_module.payload(row())


# --- who the link belonged to, and the one-time code (sealed when present) -------------------
VERIFIED_AT = dt.datetime(2025, 3, 28, 19, 4, 30, tzinfo=dt.UTC)


def independent_payload_with_contact(sig, contact_name, channel, verified_at) -> str:
    data = json.loads(independent_payload(sig))
    data["contact_name"] = contact_name
    data["step_up_channel"] = channel
    data["step_up_verified_at"] = verified_at.isoformat() if verified_at else None
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize(
    ("contact_name", "channel", "verified_at"),
    [
        ("Marie-Ève Côté", "sms", VERIFIED_AT),  # a contact's link, a code by text message
        ("Marie-Ève Côté", "", None),  # a contact's link, no code asked
        ("", "email", VERIFIED_AT),  # the customer's own link, a code by email
    ],
)
def test_the_contact_and_the_code_are_sealed_when_present(keys, contact_name, channel, verified_at):
    sig = row(
        contact_name=contact_name,
        step_up_channel=channel,
        step_up_verified_at=verified_at.astimezone(ZoneInfo("America/Toronto"))
        if verified_at
        else None,
    )
    expected = independent_payload_with_contact(sig, contact_name, channel, verified_at)
    assert seal_module.payload(sig) == expected
    _key_id, mac = seal_module.seal(sig)
    assert mac == hmac.new(KEY.encode(), expected.encode("utf-8"), hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("contact_name", "Someone Else"),
        ("step_up_channel", "email"),
        ("step_up_verified_at", VERIFIED_AT + dt.timedelta(seconds=1)),
    ],
)
def test_changing_the_contact_or_the_code_breaks_the_seal(keys, field, value):
    sig = sealed(
        row(contact_name="Marie-Ève Côté", step_up_channel="sms", step_up_verified_at=VERIFIED_AT)
    )
    assert seal_module.check(sig) is None
    setattr(sig, field, value)
    assert seal_module.check(sig) == "bad-seal"


def test_a_row_signed_before_contacts_and_codes_keeps_its_seal(keys):
    # Rows made before contacts existed have the columns empty: their payload (and seal) is the
    # one they were sealed with, without the three keys.
    sig = row(contact_name="", step_up_channel="", step_up_verified_at=None)
    assert seal_module.payload(sig) == independent_payload(sig)
