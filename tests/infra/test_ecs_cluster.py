"""The EcsCluster construct on a bare stack: Container Insights, the Fargate capacity providers
and the default strategy, and attributes that make services wait for the association."""

from __future__ import annotations

from dataclasses import replace

import pytest

from modules.aws_target import AwsTarget
from modules.ecs_cluster import EcsClusterProps
from modules.props import PropsError
from tests.infra.conftest import synth_construct
from tests.infra.helpers import one, ref

TARGET = AwsTarget(account_id="111122223333", region="eu-west-1")


def _props(**overrides) -> EcsClusterProps:
    return replace(EcsClusterProps(name="checkins-prod", target=TARGET), **overrides)


def _with_outputs(stack, props):
    from cdktf import TerraformOutput

    from modules.ecs_cluster import EcsCluster

    cluster = EcsCluster(stack, "cluster", props)
    TerraformOutput(stack, "arn", value=cluster.arn)
    TerraformOutput(stack, "name", value=cluster.name)
    return cluster


@pytest.fixture(scope="module")
def built():
    return {
        "default": synth_construct(lambda stack: _with_outputs(stack, _props())),
        "spot": synth_construct(
            lambda stack: _with_outputs(
                stack, _props(name="checkins-dev", fargate_spot=True, container_insights="enabled")
            )
        ),
    }


def test_container_insights_is_enhanced_by_default(built):
    cluster = one(built["default"][1].resources("aws_ecs_cluster"))
    assert cluster["name"] == "checkins-prod"
    assert cluster["setting"] == [{"name": "containerInsights", "value": "enhanced"}]
    variant = one(built["spot"][1].resources("aws_ecs_cluster"))
    assert variant["setting"] == [{"name": "containerInsights", "value": "enabled"}]


def test_fargate_is_associated_and_the_default_strategy(built):
    _, doc = built["default"]
    (cluster_key,) = doc.resources("aws_ecs_cluster")
    association = one(doc.resources("aws_ecs_cluster_capacity_providers"))

    assert association["cluster_name"] == ref("aws_ecs_cluster", cluster_key, "name")
    assert association["capacity_providers"] == ["FARGATE"]
    assert association["default_capacity_provider_strategy"] == [
        {"capacity_provider": "FARGATE", "weight": 1, "base": 0}
    ]


def test_fargate_spot_is_associated_only_when_asked_for_and_never_the_default(built):
    association = one(built["spot"][1].resources("aws_ecs_cluster_capacity_providers"))
    assert association["capacity_providers"] == ["FARGATE", "FARGATE_SPOT"]
    assert [s["capacity_provider"] for s in association["default_capacity_provider_strategy"]] == [
        "FARGATE"
    ]


def test_attributes_are_read_through_the_capacity_provider_association(built):
    _, doc = built["default"]
    (association_key,) = doc.resources("aws_ecs_cluster_capacity_providers")
    outputs = {k: v["value"] for k, v in doc.json["output"].items()}
    name = ref("aws_ecs_cluster_capacity_providers", association_key, "cluster_name")

    assert outputs["name"] == name
    assert outputs["arn"] == f"arn:aws:ecs:eu-west-1:111122223333:cluster/{name}"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"name": "checkins prod"},
            "EcsClusterProps.name: 'checkins prod': is not an ECS cluster name",
        ),
        ({"name": ""}, "EcsClusterProps.name: '': "),
        ({"name": "x" * 256}, "EcsClusterProps.name: "),
        (
            {"container_insights": "enhaced"},
            "EcsClusterProps.container_insights: 'enhaced': must be one of enhanced, enabled, disabled",
        ),
    ],
)
def test_bad_props_fail_with_the_field_named(overrides, message):
    with pytest.raises(PropsError) as error:
        _props(**overrides)
    assert str(error.value).startswith(message)
