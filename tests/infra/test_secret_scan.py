"""No secret material anywhere in the synthesized output, and the scanner that says so finds
each kind of secret it claims to (the emulated apply's state is scanned by the Terraform check's
`state-secrets` step, tests/terraform/)."""

from __future__ import annotations

import json

import pytest

from devtools.secret_scan import scan_document, scan_tree

# Built at run time so this file holds no literal that a scanner would flag.
PEM = "-----BEGIN " + "PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END"
ACCESS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"
PRIVATE_JWK = {"kty": "EC", "crv": "P-256", "x": "f83O", "y": "x_FE", "d": "jpsQ", "kid": "k1"}


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ({"resource": {"aws_x": {"a": {"user_data": PEM}}}}, "PEM private key"),
        ({"provider": {"aws": [{"access_key": ACCESS_KEY}]}}, "AWS access key id"),
        ({"resource": {"aws_db_instance": {"db": {"password": "hunter22"}}}}, "'password'"),
        ({"values": {"secret_string": json.dumps({"keys": [PRIVATE_JWK]})}}, "secret attribute"),
        # A private JWK inside JSON inside a string attribute (as a secret version would be).
        ({"attributes": {"value": json.dumps({"keys": [PRIVATE_JWK]})}}, "private JWK"),
        ({"environment": {"variables": {"DB_PASSWORD": "hunter22"}}}, "'DB_PASSWORD'"),
        # Terraform state of an RDS cluster given a literal password (the platform never is).
        (
            {
                "resources": [
                    {
                        "type": "aws_rds_cluster",
                        "instances": [{"attributes": {"master_password": "hunter22"}}],
                    }
                ]
            },
            "'master_password'",
        ),
    ],
    ids=[
        "pem",
        "access-key",
        "password",
        "secret-string",
        "nested-jwk",
        "env-password",
        "rds-state",
    ],
)
def test_each_kind_of_secret_is_found(doc, reason):
    findings = scan_document(doc, "doc")
    assert any(reason in str(f) for f in findings), findings


@pytest.mark.parametrize(
    "doc",
    [
        {"aws_db_instance": {"manage_master_user_password": True, "password": None}},
        {"aws_db_instance": {"password": "${var.db_password}"}},
        {"jwks": {"keys": [{k: v for k, v in PRIVATE_JWK.items() if k != "d"}]}},
        {"secret": {"kms_key_id": "arn:aws:kms:eu-west-1:111122223333:key/abc", "name": "x"}},
        {"aws_wafv2_web_acl": {"lock_token": "1c115c9a-45be-43aa-9ee0-53b9fc246861"}},
    ],
    ids=["managed-password", "reference", "public-jwk", "arns", "waf-lock-token"],
)
def test_what_is_not_secret_passes(doc):
    assert scan_document(doc, "doc") == []


def test_synthesized_output_holds_no_secret_material(synthesized):
    findings = scan_tree(synthesized.outdir)
    scanned = sorted(p.name for p in synthesized.outdir.rglob("cdk.tf.json"))
    assert scanned == ["cdk.tf.json"] * len(synthesized.stacks)
    assert findings == [], "\n".join(str(f) for f in findings)
