"""Where a stack deploys: account, region and partition, and the one place ARNs are built."""

from __future__ import annotations

import re
from dataclasses import dataclass

from modules.props import require

PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
# Services whose ARNs carry no region (IAM) or neither region nor account (S3 buckets).
_GLOBAL = frozenset({"iam", "s3"})
_NO_ACCOUNT = frozenset({"s3"})


@dataclass(frozen=True)
class AwsTarget:
    """The account, region and partition of a stack."""

    account_id: str
    region: str
    partition: str = "aws"
    """@default "aws" """

    def __post_init__(self) -> None:
        require(
            re.fullmatch(r"\d{12}", self.account_id) is not None,
            "AwsTarget.account_id",
            self.account_id,
            "is not 12 digits",
        )
        require(
            re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", self.region) is not None,
            "AwsTarget.region",
            self.region,
            "is not an AWS region",
        )
        require(self.partition in PARTITIONS, "AwsTarget.partition", self.partition, "is unknown")

    def arn(self, service: str, resource: str, *, region: str | None = None) -> str:
        """`arn:<partition>:<service>:<region>:<account>:<resource>`, with the region and account
        left empty where the service's ARNs have none (IAM, S3)."""
        where = "" if service in _GLOBAL else (region or self.region)
        account = "" if service in _NO_ACCOUNT else self.account_id
        return f"arn:{self.partition}:{service}:{where}:{account}:{resource}"

    @property
    def root_arn(self) -> str:
        """The account principal (`arn:aws:iam::<account>:root`)."""
        return self.arn("iam", "root")

    def service_principal(self, service: str) -> str:
        """A regional service principal, e.g. `logs.eu-west-1.amazonaws.com`."""
        return f"{service}.{self.region}.amazonaws.com"
