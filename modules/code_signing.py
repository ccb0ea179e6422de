"""Code signing for Lambda: an AWS Signer signing profile for the Lambda platform and a Lambda
code-signing configuration that trusts only that profile. Knows nothing about environments or
config files.

How a signed package is produced (outside the synth: nothing here shells out). Signer reads the
unsigned zip from a *versioned* S3 bucket and writes the signed zip (the same code, with the
signature embedded) under another prefix:

    aws s3api put-object --bucket <bucket> --key unsigned/<name>.zip \\
        --body build/lambda/<name>.zip                  # prints the object's VersionId
    aws signer start-signing-job --profile-name <profile_name> \\
        --source 's3={bucketName=<bucket>,key=unsigned/<name>.zip,version=<VersionId>}' \\
        --destination 's3={bucketName=<bucket>,prefix=signed/}'     # prints the jobId
    aws signer wait successful-signing-job --job-id <jobId>
    aws signer describe-signing-job --job-id <jobId> \\
        --query 'signedObject.s3.key' --output text    # signed/<jobId>.zip

The function then deploys that object (`LambdaFunctionProps.s3_bucket`/`s3_key`) with
`code_signing_config_arn=<config_arn>`. The same flow exists as Terraform resources
(`aws_s3_object` + `aws_signer_signing_job`) for pipelines that sign at apply time.

With `enforce` (the default) Lambda refuses any package that is unsigned, signed by another
profile, or whose signature expired or was revoked: a local zip (`filename`) cannot be deployed
at all. With `enforce=False` ("Warn") such a deployment succeeds and is logged in CloudTrail,
which is what a development environment that deploys the unsigned zip needs. Lambda checks
signatures only when code is deployed; a running function is never stopped by an expiry.

Destroying the profile only cancels it: Signer keeps a canceled profile, and its name, for two
years, so a profile destroyed by mistake comes back under a new name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.lambda_code_signing_config import (
    LambdaCodeSigningConfig,
    LambdaCodeSigningConfigAllowedPublishers,
    LambdaCodeSigningConfigPolicies,
)
from cdktf_cdktf_provider_aws.signer_signing_profile import (
    SignerSigningProfile,
    SignerSigningProfileSignatureValidityPeriod,
)
from constructs import Construct

from modules.props import require

LAMBDA_SIGNING_PLATFORM = "AWSLambda-SHA384-ECDSA"
_PROFILE_NAME = re.compile(r"^[A-Za-z0-9_]{2,64}$")
# Signer caps a signature's validity at 135 months (its default). Days and years are held below
# that whatever the calendar: 11 years, and 4100 days (135 months are at least 4106 days).
MAX_SIGNATURE_VALIDITY = {"DAYS": 4100, "MONTHS": 135, "YEARS": 11}


@dataclass(frozen=True)
class CodeSigningProps:
    """Props of `CodeSigning`."""

    profile_name: str
    """The Signer profile's name: 2-64 letters, digits and `_` (no `-`: Signer refuses it), e.g.
    `checkins_prod_cleanup`. Unique per account and region, including canceled profiles."""
    description: str
    """Of the code-signing configuration."""
    enforce: bool = True
    """Lambda refuses a package that is not validly signed by the profile ("Enforce"). False:
    Lambda deploys it and logs a warning ("Warn"), for environments that deploy unsigned
    packages. @default True"""
    signature_validity: int = 12
    """How long a signature made with the profile lets a package be deployed, in
    `signature_validity_unit`s: a package signed longer ago is refused (with `enforce`).
    @default 12"""
    signature_validity_unit: str = "MONTHS"
    """`DAYS`, `MONTHS` or `YEARS`. @default "MONTHS" """

    def __post_init__(self) -> None:
        require(
            _PROFILE_NAME.match(self.profile_name) is not None,
            "CodeSigningProps.profile_name",
            self.profile_name,
            "is not a Signer profile name (2-64 of A-Z, a-z, 0-9, _)",
        )
        require(
            bool(self.description.strip()),
            "CodeSigningProps.description",
            self.description,
            "must not be empty",
        )
        require(
            self.signature_validity_unit in MAX_SIGNATURE_VALIDITY,
            "CodeSigningProps.signature_validity_unit",
            self.signature_validity_unit,
            f"must be one of {', '.join(MAX_SIGNATURE_VALIDITY)}",
        )
        most = MAX_SIGNATURE_VALIDITY[self.signature_validity_unit]
        require(
            1 <= self.signature_validity <= most,
            "CodeSigningProps.signature_validity",
            self.signature_validity,
            f"is outside 1..{most} {self.signature_validity_unit} (Signer allows 135 months)",
        )


class CodeSigning(Construct):
    """Attributes: `profile_name`, `profile_arn` (what a signing pipeline's role is granted
    signer:StartSigningJob on), `profile_version_arn`, `config_arn` (for
    `LambdaFunctionProps.code_signing_config_arn`), `untrusted_artifact_on_deployment`."""

    def __init__(self, scope: Construct, id_: str, props: CodeSigningProps) -> None:
        super().__init__(scope, id_)
        profile = SignerSigningProfile(
            self,
            "profile",
            name=props.profile_name,
            platform_id=LAMBDA_SIGNING_PLATFORM,
            signature_validity_period=SignerSigningProfileSignatureValidityPeriod(
                type=props.signature_validity_unit, value=props.signature_validity
            ),
            tags={"Name": props.profile_name},
        )
        self.untrusted_artifact_on_deployment: str = "Enforce" if props.enforce else "Warn"
        config = LambdaCodeSigningConfig(
            self,
            "config",
            description=props.description,
            # Lambda's allowed publishers are profile *versions* (the version ARN), not
            # profiles: a replaced profile is trusted once this reference follows it.
            allowed_publishers=LambdaCodeSigningConfigAllowedPublishers(
                signing_profile_version_arns=[profile.version_arn]
            ),
            policies=LambdaCodeSigningConfigPolicies(
                untrusted_artifact_on_deployment=self.untrusted_artifact_on_deployment
            ),
            tags={"Name": props.profile_name},
        )
        self.profile_name: str = props.profile_name
        self.profile_arn: str = profile.arn
        self.profile_version_arn: str = profile.version_arn
        self.config_arn: str = config.arn
