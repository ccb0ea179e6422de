"""An account per environment: prod in its own account, dev in the project's (which holds the
state bucket). The App is synthesized from a copy of the configuration with prod moved."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from settings import load_platform
from tests.infra.helpers import one, policy
from tests.support.synth_fixtures import synth_platform

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT_ACCOUNT = "111122223333"
PROD_ACCOUNT = "444455556666"
DEPLOY_ROLE = f"arn:aws:iam::{PROD_ACCOUNT}:role/terraform-deploy"
STATE_ROLE = f"arn:aws:iam::{PROD_ACCOUNT}:role/terraform-state"
BUCKET_ARN = "arn:aws:s3:::checkins-tfstate-111122223333"


def _config(tmp: Path, **prod_accounts: str) -> Path:
    config = tmp / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    prod = config / "environments" / "prod.toml"
    lines = "".join(f'{k} = "{v}"\n' for k, v in prod_accounts.items())
    prod.write_text(lines + prod.read_text())
    return config


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory) -> Path:
    return _config(
        tmp_path_factory.mktemp("accounts"),
        aws_account_id=PROD_ACCOUNT,
        deploy_role_arn=DEPLOY_ROLE,
        state_role_arn=STATE_ROLE,
    )


@pytest.fixture(scope="module")
def split(config_dir, tmp_path_factory):
    return synth_platform(load_platform(config_dir=config_dir), tmp_path_factory.mktemp("out"))


def _bucket_policy(split):
    (body,) = [
        b
        for b in split.resources("state-bootstrap", "aws_s3_bucket_policy").values()
        if "state-bucket" in b["bucket"]
    ]
    return {s["Sid"]: s for s in policy(body)["Statement"]}


def test_each_environment_deploys_only_into_its_own_account(split):
    (prod,) = split.stacks["prod"]["provider"]["aws"]
    (dev,) = split.stacks["dev"]["provider"]["aws"]

    assert prod["allowed_account_ids"] == [PROD_ACCOUNT]
    assert prod["assume_role"] == [
        {"role_arn": DEPLOY_ROLE, "session_name": "checkins-prod-deploy"}
    ]
    assert dev["allowed_account_ids"] == [PROJECT_ACCOUNT]
    assert "assume_role" not in dev


def test_state_stays_in_the_project_account_reached_through_the_state_role(split):
    prod = split.stacks["prod"]["terraform"]["backend"]["s3"]
    dev = split.stacks["dev"]["terraform"]["backend"]["s3"]

    assert prod["bucket"] == dev["bucket"] == "checkins-tfstate-111122223333"
    assert prod["key"] == "checkins/prod/terraform.tfstate"
    assert prod["kms_key_id"] == f"arn:aws:kms:eu-west-1:{PROJECT_ACCOUNT}:alias/checkins-tfstate"
    assert prod["assume_role"] == {"role_arn": STATE_ROLE, "session_name": "checkins-prod-state"}
    assert "assume_role" not in dev


def test_state_bucket_grants_the_other_account_its_own_prefix_only(split):
    statements = _bucket_policy(split)
    root = {"AWS": f"arn:aws:iam::{PROD_ACCOUNT}:root"}
    grants = [s for s in statements.values() if s["Effect"] == "Allow"]

    assert statements["ProdListsItsStatePrefix"] == {
        "Sid": "ProdListsItsStatePrefix",
        "Effect": "Allow",
        "Principal": root,
        "Action": "s3:ListBucket",
        "Resource": BUCKET_ARN,
        "Condition": {"StringLike": {"s3:prefix": "checkins/prod/*"}},
    }
    assert statements["ProdReadsAndWritesItsState"]["Action"] == ["s3:GetObject", "s3:PutObject"]
    assert (
        statements["ProdReadsAndWritesItsState"]["Resource"]
        == f"{BUCKET_ARN}/checkins/prod/terraform.tfstate"
    )
    assert statements["ProdTakesItsStateLock"]["Action"] == [
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
    ]
    assert (
        statements["ProdTakesItsStateLock"]["Resource"]
        == f"{BUCKET_ARN}/checkins/prod/terraform.tfstate.tflock"
    )
    # Nothing else is granted, and dev (the bucket's own account) needs no bucket grant.
    assert {s["Sid"] for s in grants} == {
        "ProdListsItsStatePrefix",
        "ProdReadsAndWritesItsState",
        "ProdTakesItsStateLock",
    }
    assert all(s["Principal"] == root for s in grants)


def test_state_key_lets_the_other_account_use_it_only_through_s3_for_the_state_bucket(split):
    document = policy(one(split.resources("state-bootstrap", "aws_kms_key")))
    statement = next(
        s for s in document["Statement"] if s["Sid"] == "EnvironmentAccountsUseKeyThroughS3"
    )

    assert statement["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert statement["Condition"] == {
        "StringEquals": {
            "kms:CallerAccount": PROD_ACCOUNT,
            "kms:ViaService": "s3.eu-west-1.amazonaws.com",
        },
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [BUCKET_ARN, f"{BUCKET_ARN}/*"]},
    }


def test_each_account_gets_exactly_one_account_public_access_block(split):
    bootstrap = one(split.resources("state-bootstrap", "aws_s3_account_public_access_block"))
    prod = one(split.resources("prod", "aws_s3_account_public_access_block"))

    assert bootstrap["account_id"] == PROJECT_ACCOUNT
    assert prod["account_id"] == PROD_ACCOUNT
    assert all(prod[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"))  # fmt: skip
    assert split.resources("dev", "aws_s3_account_public_access_block") == {}


def test_bootstrap_knows_every_environment_whichever_are_selected(config_dir, split, tmp_path):
    only_dev = synth_platform(load_platform(["dev"], config_dir=config_dir), tmp_path)

    assert sorted(only_dev.stacks) == ["dev", "state-bootstrap"]
    assert only_dev.stacks["state-bootstrap"] == split.stacks["state-bootstrap"]


def test_one_environment_per_other_account_owns_its_account_settings(tmp_path):
    config = _config(tmp_path, aws_account_id=PROD_ACCOUNT)
    staging = (config / "environments" / "prod.toml").read_text()
    staging = staging.replace("10.20.0.0/16", "10.30.0.0/16")
    (config / "environments" / "staging.toml").write_text(staging)

    platform = load_platform(config_dir=config)
    owners = {e.name: platform.manages_account_settings(e) for e in platform.environments}

    # dev is in the project account: the bootstrap stack owns it; prod sorts before staging.
    assert owners == {"dev": False, "prod": True, "staging": False}
    assert [e.name for e in platform.in_other_accounts()] == ["prod", "staging"]
