"""Portal link secrets (``portal/tokens.py``): strength, hashing of the whole token, references.

``scripts/mutation tokens`` showed that a shorter token, a hash of part of the token, or a
reference alphabet with look-alike letters would pass the other tests. No database.
"""

from __future__ import annotations

import base64
import hashlib
import re
import string
from collections import Counter

import pytest

from portal.tokens import new_reference, new_token, token_hash

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def test_a_token_is_256_random_bits_in_43_url_safe_characters():
    tokens = {new_token() for _ in range(2000)}
    assert len(tokens) == 2000
    for token in tokens:
        assert len(token) == 43
        assert set(token) <= set(string.ascii_letters + string.digits + "-_")
        assert len(base64.urlsafe_b64decode(token + "=")) == 32


def test_the_stored_hash_is_the_sha256_of_the_whole_token():
    # Stored rows hold exactly this value: changing the hash would orphan every live link.
    token = new_token()
    assert token_hash(token) == hashlib.sha256(token.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", token_hash(token))
    assert token_hash(token) == token_hash(str(token))


def test_every_near_miss_of_a_token_hashes_differently():
    token = new_token()
    original = token_hash(token)
    for index in range(len(token)):
        other = "A" if token[index] != "A" else "B"
        assert token_hash(token[:index] + other + token[index + 1 :]) != original
    assert token_hash(token[:-1]) != original
    assert token_hash(token + "x") != original
    assert token_hash(token[:10] + new_token()[10:]) != original


@pytest.mark.parametrize("junk", ["\ud800", "abc\udfff", "é" * 10, ""])
def test_any_visitor_input_hashes_without_error(junk):
    assert re.fullmatch(r"[0-9a-f]{64}", token_hash(junk))


def test_references_are_short_unambiguous_and_evenly_spread():
    refs = [new_reference() for _ in range(3000)]
    for ref in refs:
        assert re.fullmatch(rf"L-[{ALPHABET}]{{4}}", ref)
    counts = Counter("".join(ref[2:] for ref in refs))
    assert set(counts) == set(ALPHABET)  # every symbol is used, and only those
    assert max(counts.values()) < 2 * (4 * 3000 / len(ALPHABET))
    assert not set("01IO") & set(counts)
