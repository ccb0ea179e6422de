"""Access-token verification refuses every forgery and mis-use (one test per attack)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
from auth_service.core.security import InvalidToken, KeyRing, generate_signing_key
from joserfc import jwt
from joserfc.jwk import ECKey

from tests.auth.conftest import AUDIENCE, ISSUER


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(**overrides) -> dict:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + 900,
        "jti": str(uuid.uuid4()),
        "scope": "checkins:read",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.fixture(scope="module")
def keyring(signing_keys) -> KeyRing:
    return KeyRing.from_jwks_json(
        json.dumps({"keys": signing_keys}), issuer=ISSUER, audience=AUDIENCE
    )


def _sign(private_jwk: dict, claims: dict, **header) -> str:
    key = ECKey.import_key(private_jwk)
    head = {"alg": "ES256", "typ": "at+jwt", "kid": private_jwk["kid"], **header}
    return jwt.encode(head, claims, key, algorithms=["ES256"])


def test_a_genuine_token_verifies(keyring, signing_keys):
    claims = _claims()
    assert keyring.verify(_sign(signing_keys[0], claims))["jti"] == claims["jti"]


def test_tokens_signed_with_the_previous_key_still_verify(keyring, signing_keys):
    assert keyring.verify(_sign(signing_keys[1], _claims()))["iss"] == ISSUER


def test_alg_none_is_refused(keyring):
    token = f"{_b64({'alg': 'none', 'typ': 'at+jwt', 'kid': 'current-key'})}.{_b64(_claims())}."
    with pytest.raises(InvalidToken):
        keyring.verify(token)


@pytest.mark.parametrize("secret_form", ["pem", "jwk-json"])
def test_hs256_signed_with_the_public_key_is_refused(keyring, signing_keys, secret_form):
    """Algorithm confusion: an HMAC keyed with the published public key.

    Built by hand: the JOSE library itself refuses to use a public key as an HMAC secret.
    """
    public = ECKey.import_key(signing_keys[0])
    secret = (
        public.as_pem(private=False)
        if secret_form == "pem"
        else json.dumps(public.as_dict(private=False)).encode()
    )
    signing_input = (
        f"{_b64({'alg': 'HS256', 'typ': 'at+jwt', 'kid': 'current-key'})}.{_b64(_claims())}"
    )
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    with pytest.raises(InvalidToken):
        keyring.verify(token)


def test_unknown_kid_is_refused(keyring):
    stranger = generate_signing_key("stranger")
    with pytest.raises(InvalidToken):
        keyring.verify(_sign(stranger, _claims()))


def test_foreign_key_claiming_a_known_kid_is_refused(keyring):
    impostor = {**generate_signing_key(), "kid": "current-key"}
    with pytest.raises(InvalidToken):
        keyring.verify(_sign(impostor, _claims()))


def test_wrong_issuer_is_refused(keyring, signing_keys):
    with pytest.raises(InvalidToken):
        keyring.verify(_sign(signing_keys[0], _claims(iss="https://evil.example")))


def test_wrong_audience_is_refused(keyring, signing_keys):
    with pytest.raises(InvalidToken):
        keyring.verify(_sign(signing_keys[0], _claims(aud="another-api")))


def test_expired_token_is_refused(keyring, signing_keys):
    past = int(time.time()) - 3600
    claims = _claims(iat=past - 900, nbf=past - 900, exp=past)
    with pytest.raises(InvalidToken):
        keyring.verify(_sign(signing_keys[0], claims))


def test_not_yet_valid_token_is_refused(keyring, signing_keys):
    future = int(time.time()) + 3600
    with pytest.raises(InvalidToken):
        keyring.verify(_sign(signing_keys[0], _claims(nbf=future, exp=future + 900)))


@pytest.mark.parametrize("claim", ["exp", "iss", "aud", "sub", "jti"])
def test_missing_required_claim_is_refused(keyring, signing_keys, claim):
    with pytest.raises(InvalidToken):
        keyring.verify(_sign(signing_keys[0], _claims(**{claim: None})))


def test_tampered_payload_is_refused(keyring, signing_keys):
    header, _, signature = _sign(signing_keys[0], _claims()).split(".")
    forged = _b64(_claims(sub=str(uuid.uuid4()), scope="admin"))
    with pytest.raises(InvalidToken):
        keyring.verify(f"{header}.{forged}.{signature}")


def test_a_jwt_that_is_not_an_access_token_is_refused(keyring, signing_keys):
    with pytest.raises(InvalidToken):
        keyring.verify(_sign(signing_keys[0], _claims(), typ="JWT"))


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "....", "e30.e30.e30"])
def test_garbage_is_refused(keyring, garbage):
    with pytest.raises(InvalidToken):
        keyring.verify(garbage)


def test_the_api_refuses_a_forged_bearer_token_with_401(client, signing_keys):
    token = f"{_b64({'alg': 'none', 'typ': 'at+jwt', 'kid': 'current-key'})}.{_b64(_claims())}."
    response = client.get("/v1/api-keys", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["detail"].startswith("invalid token")


def test_jwks_publishes_current_and_previous_public_keys(client, signing_keys):
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    keys = response.json()["keys"]
    assert [k["kid"] for k in keys] == ["current-key", "previous-key"]
    for published, private in zip(keys, signing_keys, strict=True):
        assert published == {
            "kty": "EC",
            "crv": "P-256",
            "x": private["x"],
            "y": private["y"],
            "kid": private["kid"],
            "alg": "ES256",
            "use": "sig",
        }
        assert "d" not in published
