"""The CodeSigning construct on a bare stack: a Signer profile for Lambda and a code-signing
configuration that trusts only that profile's version, enforcing (or, opted out, warning)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from modules.code_signing import LAMBDA_SIGNING_PLATFORM, CodeSigningProps
from modules.props import PropsError
from tests.infra.conftest import synth_construct
from tests.infra.helpers import one, ref


def _props(**overrides) -> CodeSigningProps:
    return replace(
        CodeSigningProps(profile_name="app_test_cleanup", description="Signed cleanup code"),
        **overrides,
    )


@pytest.fixture(scope="module")
def built():
    """Defaults and the opt-out (Warn, another validity), each on its own bare stack, with the
    construct's attributes as outputs so that their references can be read back."""
    from cdktf import TerraformOutput

    from modules.code_signing import CodeSigning

    def build(props):
        def _build(stack):
            signing = CodeSigning(stack, "signing", props)
            for name in ("profile_arn", "profile_version_arn", "config_arn"):
                TerraformOutput(stack, name, value=getattr(signing, name))
            return signing

        return _build

    variants = {
        "enforced": _props(),
        "warned": _props(enforce=False, signature_validity=30, signature_validity_unit="DAYS"),
    }
    return {name: synth_construct(build(p), name=name) for name, p in variants.items()}


def test_profile_signs_for_lambda_with_its_name_and_a_twelve_month_validity(built):
    doc = built["enforced"][1]
    profile = one(doc.resources("aws_signer_signing_profile"))

    assert profile["platform_id"] == LAMBDA_SIGNING_PLATFORM == "AWSLambda-SHA384-ECDSA"
    assert profile["name"] == "app_test_cleanup"
    assert "name_prefix" not in profile
    assert profile["signature_validity_period"] == {"type": "MONTHS", "value": 12}
    assert profile["tags"] == {"Name": "app_test_cleanup"}


def test_config_trusts_only_the_profile_version_and_enforces_by_default(built):
    construct, doc = built["enforced"]
    (profile_key,) = doc.resources("aws_signer_signing_profile")
    config = one(doc.resources("aws_lambda_code_signing_config"))

    assert config["allowed_publishers"] == {
        "signing_profile_version_arns": [
            ref("aws_signer_signing_profile", profile_key, "version_arn")
        ]
    }
    assert config["policies"] == {"untrusted_artifact_on_deployment": "Enforce"}
    assert config["description"] == "Signed cleanup code"
    assert construct.untrusted_artifact_on_deployment == "Enforce"


def test_opting_out_of_enforce_warns_and_the_validity_follows_the_props(built):
    construct, doc = built["warned"]
    config = one(doc.resources("aws_lambda_code_signing_config"))
    profile = one(doc.resources("aws_signer_signing_profile"))

    assert config["policies"] == {"untrusted_artifact_on_deployment": "Warn"}
    assert construct.untrusted_artifact_on_deployment == "Warn"
    assert profile["signature_validity_period"] == {"type": "DAYS", "value": 30}


def test_attributes_name_the_profile_its_version_and_the_config(built):
    construct, doc = built["enforced"]
    (profile_key,) = doc.resources("aws_signer_signing_profile")
    (config_key,) = doc.resources("aws_lambda_code_signing_config")
    outputs = {name: body["value"] for name, body in doc.json["output"].items()}

    assert construct.profile_name == "app_test_cleanup"
    assert outputs == {
        "profile_arn": ref("aws_signer_signing_profile", profile_key, "arn"),
        "profile_version_arn": ref("aws_signer_signing_profile", profile_key, "version_arn"),
        "config_arn": ref("aws_lambda_code_signing_config", config_key, "arn"),
    }


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"profile_name": "app-test-cleanup"}, "profile_name", "is not a Signer profile name"),
        ({"profile_name": "a"}, "profile_name", "is not a Signer profile name"),
        ({"profile_name": "p" * 65}, "profile_name", "is not a Signer profile name"),
        ({"description": " "}, "description", "must not be empty"),
        ({"signature_validity_unit": "WEEKS"}, "signature_validity_unit", "DAYS, MONTHS, YEARS"),
        ({"signature_validity": 0}, "signature_validity", "is outside 1..135 MONTHS"),
        ({"signature_validity": 136}, "signature_validity", "is outside 1..135 MONTHS"),
        (
            {"signature_validity": 12, "signature_validity_unit": "YEARS"},
            "signature_validity",
            "is outside 1..11 YEARS",
        ),
        (
            {"signature_validity": 4101, "signature_validity_unit": "DAYS"},
            "signature_validity",
            "is outside 1..4100 DAYS",
        ),
    ],
)
def test_bad_props_fail_with_the_field_and_reason(overrides, field, reason):
    with pytest.raises(PropsError, match=f"^CodeSigningProps.{field}: ") as error:
        _props(**overrides)
    assert reason in str(error.value)


def test_the_longest_validities_signer_allows_are_accepted():
    for value, unit in ((135, "MONTHS"), (11, "YEARS"), (4100, "DAYS"), (1, "DAYS")):
        assert _props(signature_validity=value, signature_validity_unit=unit).signature_validity
