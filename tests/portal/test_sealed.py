from __future__ import annotations

import time

import pytest
from django.test import override_settings

from crewcommand.lib.sealed import SealError, seal, unseal


def test_sealed_text_round_trips_and_is_not_readable():
    url = "https://crew.example.ca/p/secret-token-value/"
    sealed = seal(url)
    assert "secret-token-value" not in sealed
    assert unseal(sealed, 60) == url


def test_tampered_value_is_rejected():
    sealed = seal("hello")
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(SealError):
        unseal(tampered, 60)
    with pytest.raises(SealError):
        unseal("not a sealed value", 60)
    with pytest.raises(SealError):
        unseal("ünïcode", 60)


def test_expired_value_is_rejected(monkeypatch):
    sealed = seal("hello")
    later = time.time() + 120
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(SealError):
        unseal(sealed, 60)


def test_purpose_separates_keys():
    sealed = seal("hello", purpose="a")
    with pytest.raises(SealError):
        unseal(sealed, 60, purpose="b")


def test_values_sealed_before_a_key_rotation_still_open():
    with override_settings(SECRET_KEY="old-key-" + "x" * 60):
        sealed = seal("hello")
    with override_settings(
        SECRET_KEY="new-key-" + "y" * 60, SECRET_KEY_FALLBACKS=["old-key-" + "x" * 60]
    ):
        assert unseal(sealed, 60) == "hello"
    with (
        override_settings(SECRET_KEY="new-key-" + "y" * 60, SECRET_KEY_FALLBACKS=[]),
        pytest.raises(SealError),
    ):
        unseal(sealed, 60)
