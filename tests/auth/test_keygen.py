"""The key-generation command produces AUTH_SIGNING_KEYS values the service accepts."""

from __future__ import annotations

import json

from auth_service import keygen
from auth_service.core.security import KeyRing


def _run(capsys, *argv: str) -> dict:
    assert keygen.main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_new_key_set_is_accepted_by_the_service(capsys):
    keys = _run(capsys)
    (key,) = keys["keys"]
    assert (key["kty"], key["crv"], key["alg"]) == ("EC", "P-256", "ES256")
    ring = KeyRing.from_jwks_json(json.dumps(keys), issuer="i", audience="a")
    assert ring.current_kid == key["kid"]


def test_rotation_puts_the_new_key_first_and_keeps_the_current_one(capsys):
    first = _run(capsys)
    rotated = _run(capsys, "--rotate", json.dumps(first))
    assert len(rotated["keys"]) == 2
    assert rotated["keys"][1] == first["keys"][0]
    ring = KeyRing.from_jwks_json(json.dumps(rotated), issuer="i", audience="a")
    old = KeyRing.from_jwks_json(json.dumps(first), issuer="i", audience="a")
    # Tokens signed before the rotation still verify after it.
    token = old.issue("00000000-0000-0000-0000-000000000001", "checkins:read").token
    assert ring.verify(token)["sub"] == "00000000-0000-0000-0000-000000000001"
    assert [k["kid"] for k in ring.jwks["keys"]] == [k["kid"] for k in rotated["keys"]]
