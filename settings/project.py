"""Settings shared by every environment: `config/project.toml`."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from settings.base import BUCKET_NAME, NAME, Strict, check_region

ACCOUNT_ID = r"^\d{12}$"


class StateConfig(Strict):
    """Where every environment keeps its Terraform state."""

    bucket: Annotated[str, Field(pattern=BUCKET_NAME)]
    region: str
    noncurrent_version_retention_days: Annotated[int, Field(ge=1, le=3650)] = 90
    """Days a superseded state version is kept before it expires."""
    bootstrap_state_in_bucket: bool = False
    """The `state-bootstrap` stack keeps its own state in the bucket it created (S3 backend,
    key `<project>/state-bootstrap/terraform.tfstate`) instead of a local file. Turn on only
    after its first apply, then `terraform init -migrate-state` (docs/state.md)."""

    _region = field_validator("region")(check_region)


class ProjectConfig(Strict):
    """Settings shared by all environments."""

    project: Annotated[str, Field(pattern=NAME)]
    owner: Annotated[str, Field(min_length=1, max_length=128)]
    repository: Annotated[str, Field(min_length=1, max_length=256)]
    aws_account_id: Annotated[str, Field(pattern=ACCOUNT_ID)]
    """The account of the state bucket and its key; the default account of every environment."""
    state: StateConfig
