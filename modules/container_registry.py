"""A private ECR repository for one service's images: tags are immutable (a tag names one image
for ever; deployments pin the digest anyway), every push is scanned, the layers are encrypted
with a customer key, and a lifecycle policy keeps the last images and drops untagged ones.
Knows nothing about environments or config files."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.ecr_lifecycle_policy import EcrLifecyclePolicy
from cdktf_cdktf_provider_aws.ecr_repository import (
    EcrRepository,
    EcrRepositoryEncryptionConfiguration,
    EcrRepositoryImageScanningConfiguration,
)
from constructs import Construct

from modules.props import check_arn, require

# ECR's repository name grammar: path components of lower-case alphanumerics separated by
# one `.`, `_` or `-`, joined by `/`.
_REPOSITORY_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
MAX_KEEP_IMAGES = 1000


@dataclass(frozen=True)
class ContainerRegistryProps:
    """Props of `ContainerRegistry`."""

    name: str
    """Repository name, unique per account and region, e.g. `checkins-prod-auth`."""
    kms_key_arn: str
    """Encrypts the image layers (a key ARN: an alias or a changed key replaces the repository;
    ECR creates its own grant on the key, so the key policy must let the deploying principal
    create grants through ECR)."""
    keep_images: int = 20
    """Images kept (the newest pushed); older ones expire. Must exceed the number of images any
    running task definition or rollback could still name. @default 20"""
    untagged_expiry_days: int = 3
    """Untagged images (failed or superseded pushes) expire after this many days. @default 3"""
    prevent_destroy: bool = True
    """Terraform refuses to destroy the repository, and never deletes it while it holds images.
    False (throw-away environments): `force_delete`, the images go with it. @default True"""

    def __post_init__(self) -> None:
        require(
            2 <= len(self.name) <= 256 and _REPOSITORY_NAME.match(self.name) is not None,
            "ContainerRegistryProps.name",
            self.name,
            "is not an ECR repository name (2-256 lower-case characters, components of a-z 0-9 "
            "separated by . _ - and joined by /)",
        )
        check_arn(
            "ContainerRegistryProps.kms_key_arn", self.kms_key_arn, service="kms", resource="key/"
        )
        require(
            1 <= self.keep_images <= MAX_KEEP_IMAGES,
            "ContainerRegistryProps.keep_images",
            self.keep_images,
            f"is outside 1..{MAX_KEEP_IMAGES}",
        )
        require(
            1 <= self.untagged_expiry_days <= 365,
            "ContainerRegistryProps.untagged_expiry_days",
            self.untagged_expiry_days,
            "is outside 1..365",
        )


def lifecycle_policy(keep_images: int, untagged_expiry_days: int) -> str:
    """The repository's lifecycle policy: untagged images expire first, then everything beyond
    the newest `keep_images`. Rules in ascending priority (ECR returns them so, and any other
    order shows as a change on every plan); the `any` rule must have the highest priority."""
    rules = [
        {
            "rulePriority": 1,
            "description": f"Untagged images expire after {untagged_expiry_days} days",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": untagged_expiry_days,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": f"Keep the last {keep_images} images",
            "selection": {
                "tagStatus": "any",
                "countType": "imageCountMoreThan",
                "countNumber": keep_images,
            },
            "action": {"type": "expire"},
        },
    ]
    return json.dumps({"rules": rules}, separators=(",", ":"))


class ContainerRegistry(Construct):
    """Attributes: `name`, `repository_url` (what image references start with),
    `repository_arn` (a reference: what a task's execution role may pull from)."""

    def __init__(self, scope: Construct, id_: str, props: ContainerRegistryProps) -> None:
        super().__init__(scope, id_)
        protected = props.prevent_destroy
        repository = EcrRepository(
            self,
            "repository",
            name=props.name,
            # A tag can never be moved to another image: what was tested is what runs.
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=EcrRepositoryImageScanningConfiguration(scan_on_push=True),
            encryption_configuration=[
                EcrRepositoryEncryptionConfiguration(
                    encryption_type="KMS", kms_key=props.kms_key_arn
                )
            ],
            force_delete=not protected,
            tags={"Name": props.name},
            lifecycle=TerraformResourceLifecycle(prevent_destroy=True) if protected else None,
        )
        EcrLifecyclePolicy(
            self,
            "lifecycle-policy",
            repository=repository.name,
            policy=lifecycle_policy(props.keep_images, props.untagged_expiry_days),
        )
        self.name: str = props.name
        self.repository_url: str = repository.repository_url
        self.repository_arn: str = repository.arn
