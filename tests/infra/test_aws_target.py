"""The one ARN builder: account, region and partition in every ARN, and bad targets refused."""

from __future__ import annotations

import pytest

from modules.aws_target import AwsTarget
from modules.props import PropsError

TARGET = AwsTarget(account_id="111122223333", region="eu-west-1")


def test_regional_arns_carry_the_partition_region_and_account():
    assert TARGET.arn("logs", "log-group:x") == "arn:aws:logs:eu-west-1:111122223333:log-group:x"
    assert (
        AwsTarget("111122223333", "cn-north-1", "aws-cn").arn("kms", "key/k")
        == "arn:aws-cn:kms:cn-north-1:111122223333:key/k"
    )


def test_iam_arns_have_no_region_and_s3_bucket_arns_neither_region_nor_account():
    assert TARGET.root_arn == "arn:aws:iam::111122223333:root"
    assert TARGET.arn("s3", "my-bucket/*") == "arn:aws:s3:::my-bucket/*"


def test_an_arn_in_another_region_of_the_same_account():
    assert TARGET.arn("sns", "t", region="us-east-1") == "arn:aws:sns:us-east-1:111122223333:t"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"account_id": "12345", "region": "eu-west-1"}, "AwsTarget.account_id"),
        ({"account_id": "111122223333", "region": "Ireland"}, "AwsTarget.region"),
        (
            {"account_id": "111122223333", "region": "eu-west-1", "partition": "mars"},
            "AwsTarget.partition",
        ),
    ],
)
def test_bad_targets_fail_with_the_field_named(kwargs, field):
    with pytest.raises(PropsError, match=f"^{field}: "):
        AwsTarget(**kwargs)
