"""The ContainerRegistry construct on a bare stack: one ECR repository with immutable tags,
scanning on push, a customer key, protection from destruction and a lifecycle policy."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from modules.container_registry import ContainerRegistryProps
from modules.props import PropsError
from tests.infra.conftest import synth_construct
from tests.infra.helpers import one, ref

KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _props(**overrides) -> ContainerRegistryProps:
    return replace(ContainerRegistryProps(name="checkins-prod-auth", kms_key_arn=KEY), **overrides)


def _with_outputs(stack, props):
    from cdktf import TerraformOutput

    from modules.container_registry import ContainerRegistry

    registry = ContainerRegistry(stack, "registry", props)
    for name in ("repository_url", "repository_arn", "name"):
        TerraformOutput(stack, name, value=getattr(registry, name))
    return registry


@pytest.fixture(scope="module")
def built():
    return {
        "default": synth_construct(lambda stack: _with_outputs(stack, _props())),
        "throwaway": synth_construct(
            lambda stack: _with_outputs(
                stack,
                _props(
                    name="checkins-dev/app",
                    keep_images=7,
                    untagged_expiry_days=1,
                    prevent_destroy=False,
                ),
            )
        ),
    }


def _rules(doc):
    return json.loads(one(doc.resources("aws_ecr_lifecycle_policy"))["policy"])["rules"]


def test_tags_are_immutable_and_every_push_is_scanned(built):
    for variant in built.values():
        repository = one(variant[1].resources("aws_ecr_repository"))
        assert repository["image_tag_mutability"] == "IMMUTABLE"
        assert repository["image_scanning_configuration"] == {"scan_on_push": True}


def test_layers_are_encrypted_with_the_given_customer_key(built):
    repository = one(built["default"][1].resources("aws_ecr_repository"))
    assert repository["encryption_configuration"] == [{"encryption_type": "KMS", "kms_key": KEY}]


def test_protected_repository_is_never_force_deleted_nor_destroyed(built):
    repository = one(built["default"][1].resources("aws_ecr_repository"))
    assert repository["force_delete"] is False
    assert repository["lifecycle"] == {"prevent_destroy": True}


def test_unprotected_repository_is_force_deleted_with_its_images(built):
    repository = one(built["throwaway"][1].resources("aws_ecr_repository"))
    assert repository["force_delete"] is True
    assert "lifecycle" not in repository


def test_lifecycle_policy_applies_to_the_repository(built):
    _, doc = built["default"]
    (repository_key,) = doc.resources("aws_ecr_repository")
    lifecycle = one(doc.resources("aws_ecr_lifecycle_policy"))
    assert lifecycle["repository"] == ref("aws_ecr_repository", repository_key, "name")


def test_untagged_images_expire_first_after_the_given_days(built):
    default, throwaway = _rules(built["default"][1]), _rules(built["throwaway"][1])
    assert default[0] == {
        "rulePriority": 1,
        "description": "Untagged images expire after 3 days",
        "selection": {
            "tagStatus": "untagged",
            "countType": "sinceImagePushed",
            "countUnit": "days",
            "countNumber": 3,
        },
        "action": {"type": "expire"},
    }
    assert throwaway[0]["selection"]["countNumber"] == 1


def test_the_last_n_images_are_kept_by_the_last_rule(built):
    default, throwaway = _rules(built["default"][1]), _rules(built["throwaway"][1])
    assert default[-1]["selection"] == {
        "tagStatus": "any",
        "countType": "imageCountMoreThan",
        "countNumber": 20,
    }
    assert default[-1]["action"] == {"type": "expire"}
    assert throwaway[-1]["selection"]["countNumber"] == 7
    # ECR wants the `any` rule last, and returns rules by ascending priority.
    priorities = [r["rulePriority"] for r in default]
    assert priorities == sorted(priorities) and len(set(priorities)) == len(priorities)
    assert [r["selection"]["tagStatus"] for r in default].index("any") == len(default) - 1


def test_attributes_resolve_to_the_repository(built):
    for name, (_construct, doc) in built.items():
        outputs = {k: v["value"] for k, v in doc.json["output"].items()}
        (key,) = doc.resources("aws_ecr_repository")
        assert outputs["repository_url"] == ref("aws_ecr_repository", key, "repository_url")
        assert outputs["repository_arn"] == ref("aws_ecr_repository", key, "arn")
        assert outputs["name"] == one(doc.resources("aws_ecr_repository"))["name"], name
    assert built["throwaway"][0].name == "checkins-dev/app"


@pytest.mark.parametrize("keep", [1, 1000])
def test_keep_images_bounds_are_accepted(keep):
    assert _props(keep_images=keep).keep_images == keep


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"name": "Checkins"},
            "ContainerRegistryProps.name: 'Checkins': is not an ECR repository name",
        ),
        ({"name": "a"}, "ContainerRegistryProps.name: 'a': "),
        ({"name": "app//x"}, "ContainerRegistryProps.name: 'app//x': "),
        ({"name": "app-"}, "ContainerRegistryProps.name: 'app-': "),
        (
            {"kms_key_arn": "alias/ecr"},
            "ContainerRegistryProps.kms_key_arn: 'alias/ecr': is not an kms ARN",
        ),
        (
            {"kms_key_arn": "arn:aws:kms:eu-west-1:111122223333:alias/ecr"},
            "ContainerRegistryProps.kms_key_arn: ",
        ),
        ({"keep_images": 0}, "ContainerRegistryProps.keep_images: 0: is outside 1..1000"),
        ({"keep_images": 1001}, "ContainerRegistryProps.keep_images: 1001: is outside 1..1000"),
        (
            {"untagged_expiry_days": 0},
            "ContainerRegistryProps.untagged_expiry_days: 0: is outside 1..365",
        ),
    ],
)
def test_bad_props_fail_with_the_field_named(overrides, message):
    with pytest.raises(PropsError) as error:
        _props(**overrides)
    assert str(error.value).startswith(message)
