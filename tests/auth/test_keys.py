"""Signing keys and their rotation, at the level of one token: the ``kid`` header,
the previous keys that verify but never sign, legacy tokens without ``kid``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import jwt
import pytest

from meeple.auth.errors import InvalidToken, TokenExpired
from meeple.auth.keys import KeyRing, key_id, load_key_ring, split_keys
from meeple.auth.tokens import ALGORITHM, TokenSigner, verify_access_token
from meeple.settings import Settings
from tests.auth.forge import legacy_token

OLD = "old-signing-key-of-the-key-tests-0123456789abcdef"
NEW = "new-signing-key-of-the-key-tests-0123456789abcdef"
OTHER = "unrelated-signing-key-nobody-configured-0123456789"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_key_id_is_a_short_digest_never_the_key() -> None:
    assert key_id(NEW) == hashlib.sha256(NEW.encode()).hexdigest()[:8]
    assert key_id(NEW) != key_id(OLD)
    ring = KeyRing(NEW, [OLD])
    assert NEW not in repr(ring) and OLD not in repr(ring)
    assert key_id(NEW) in repr(ring) and key_id(OLD) in repr(ring)


def test_tokens_carry_the_current_kid_and_previous_keys_never_sign() -> None:
    signer = TokenSigner(KeyRing(NEW, [OLD]), 900)
    for player_id in range(5):
        token, claims = signer.issue(player_id, "p", "player", "family")
        assert jwt.get_unverified_header(token)["kid"] == key_id(NEW)
        assert jwt.decode(token, NEW, algorithms=[ALGORITHM])["sub"] == str(player_id)
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(token, OLD, algorithms=[ALGORITHM])
        assert verify_access_token(token, NEW) == claims


def test_previous_key_verifies_until_it_is_dropped() -> None:
    old_token, claims = TokenSigner(OLD, 900).issue(3, "p", "player", None)
    assert verify_access_token(old_token, KeyRing(NEW, [OLD])) == claims
    # Staged before it signs (rotation step 2): a listed key verifies whatever its age.
    new_token, new_claims = TokenSigner(NEW, 900).issue(3, "p", "player", None)
    assert verify_access_token(new_token, KeyRing(OLD, [NEW])) == new_claims
    with pytest.raises(InvalidToken, match="unknown key") as refused:
        verify_access_token(old_token, KeyRing(NEW))
    assert refused.value.code == "invalid_token"


def test_legacy_token_without_kid_tries_current_then_previous_keys() -> None:
    assert verify_access_token(legacy_token(NEW, 7), KeyRing(NEW, [OLD])).player_id == 7
    assert verify_access_token(legacy_token(OLD, 7), KeyRing(NEW, [OTHER, OLD])).player_id == 7
    with pytest.raises(InvalidToken) as refused:
        verify_access_token(legacy_token(OLD, 7), KeyRing(NEW, [OTHER]))
    assert refused.value.code == "invalid_token"
    # The claims are checked once a key matched: expired is still expired.
    with pytest.raises(TokenExpired):
        verify_access_token(legacy_token(OLD, 7, exp_in=-60), KeyRing(NEW, [OLD]))


def test_unknown_or_lying_kid_is_invalid_token() -> None:
    unknown, _ = TokenSigner(OTHER, 900).issue(1, "p", "player", None)
    with pytest.raises(InvalidToken, match=key_id(OTHER)) as refused:
        verify_access_token(unknown, KeyRing(NEW, [OLD]))
    assert type(refused.value) is InvalidToken and refused.value.code == "invalid_token"
    # A kid that names a key of the ring over another key's signature.
    now = int(time.time())
    payload = {"sub": "1", "role": "player", "iat": now, "exp": now + 60, "jti": "x"}
    for kid in (key_id(NEW), key_id(OLD)):
        lying = jwt.encode(payload, OTHER, algorithm=ALGORITHM, headers={"kid": kid})
        with pytest.raises(InvalidToken) as refused:
            verify_access_token(lying, KeyRing(NEW, [OLD]))
        assert type(refused.value) is InvalidToken
    # A kid that is not a string, over a good signature.
    header = _b64(json.dumps({"alg": ALGORITHM, "typ": "JWT", "kid": 12345}).encode())
    body = _b64(json.dumps(payload).encode())
    mac = hmac.new(NEW.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidToken):
        verify_access_token(f"{header}.{body}.{_b64(mac)}", KeyRing(NEW))
    with pytest.raises(InvalidToken):
        verify_access_token("not.a.token", KeyRing(NEW))


def test_ring_drops_repeats_and_refuses_empty_or_clashing_keys() -> None:
    ring = KeyRing(NEW, [OLD, NEW, "", OLD])
    assert ring.keys == (NEW, OLD)
    assert ring.get(key_id(OLD)) == OLD and ring.get("00000000") is None
    with pytest.raises(ValueError, match="empty"):
        KeyRing("")
    # Two different keys with one 32-bit id (found by a search): which one signed is
    # ambiguous, so the ring refuses them.
    a, b = "clash-41620", "clash-66956"
    assert key_id(a) == key_id(b)
    with pytest.raises(ValueError, match=key_id(a)):
        KeyRing(a, [b])
    assert split_keys(" a, ,b ,") == ["a", "b"]


def test_load_key_ring_reads_the_previous_keys_setting(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, signing_key=NEW, signing_keys_previous=f"{OLD} , ")
    ring = load_key_ring(settings)
    assert (ring.current, ring.previous) == (NEW, (OLD,))
    assert not (tmp_path / "signing.key").exists()
    generated = load_key_ring(Settings(data_dir=tmp_path, signing_keys_previous=OLD))
    assert generated.current == (tmp_path / "signing.key").read_text().strip()
    assert generated.previous == (OLD,)
