"""Settings shared by every environment: `config/project.toml`."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from settings.base import BUCKET_NAME, NAME, Strict, check_region


class StateConfig(Strict):
    """Where every environment keeps its Terraform state."""

    bucket: Annotated[str, Field(pattern=BUCKET_NAME)]
    region: str
    noncurrent_version_retention_days: Annotated[int, Field(ge=1, le=3650)] = 90
    """Days a superseded state version is kept before it expires."""

    _region = field_validator("region")(check_region)


class ProjectConfig(Strict):
    """Settings shared by all environments."""

    project: Annotated[str, Field(pattern=NAME)]
    owner: Annotated[str, Field(min_length=1, max_length=128)]
    repository: Annotated[str, Field(min_length=1, max_length=256)]
    aws_account_id: Annotated[str, Field(pattern=r"^\d{12}$")]
    state: StateConfig
