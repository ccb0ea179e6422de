"""An ECS cluster for Fargate services: Container Insights (enhanced observability by default),
the FARGATE capacity provider (and FARGATE_SPOT when asked for) associated with it, and FARGATE
as the default strategy. Knows nothing about environments or config files."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.ecs_cluster import EcsCluster as EcsClusterResource
from cdktf_cdktf_provider_aws.ecs_cluster import EcsClusterSetting
from cdktf_cdktf_provider_aws.ecs_cluster_capacity_providers import (
    EcsClusterCapacityProviders,
    EcsClusterCapacityProvidersDefaultCapacityProviderStrategy,
)
from constructs import Construct

from modules.aws_target import AwsTarget
from modules.props import require

# `containerInsights` values; a misspelt one is only refused by the API at apply time.
CONTAINER_INSIGHTS = ("enhanced", "enabled", "disabled")
_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


@dataclass(frozen=True)
class EcsClusterProps:
    """Props of `EcsCluster`."""

    name: str
    """Cluster name, unique per account and region, e.g. `checkins-prod`."""
    target: AwsTarget
    container_insights: str = "enhanced"
    """Container Insights level: `enhanced` adds task- and container-level metrics (and the
    RunningTaskCount the alarms read), `enabled` the service-level ones only. @default enhanced"""
    fargate_spot: bool = False
    """Also associate FARGATE_SPOT, for interruptible x86_64 work (Spot has no ARM64); the
    default strategy stays FARGATE. @default False"""

    def __post_init__(self) -> None:
        require(
            _CLUSTER_NAME.match(self.name) is not None,
            "EcsClusterProps.name",
            self.name,
            "is not an ECS cluster name (1-255 of A-Z, a-z, 0-9, _ -)",
        )
        require(
            self.container_insights in CONTAINER_INSIGHTS,
            "EcsClusterProps.container_insights",
            self.container_insights,
            f"must be one of {', '.join(CONTAINER_INSIGHTS)}",
        )


class EcsCluster(Construct):
    """Attributes: `name`, `arn`. Both are read through the capacity-provider association, so a
    service that names the cluster by either waits for FARGATE to be associated (a service
    whose strategy names a provider the cluster does not have yet fails to create)."""

    def __init__(self, scope: Construct, id_: str, props: EcsClusterProps) -> None:
        super().__init__(scope, id_)
        cluster = EcsClusterResource(
            self,
            "cluster",
            name=props.name,
            setting=[EcsClusterSetting(name="containerInsights", value=props.container_insights)],
            tags={"Name": props.name},
        )
        providers = ["FARGATE", *(["FARGATE_SPOT"] if props.fargate_spot else [])]
        association = EcsClusterCapacityProviders(
            self,
            "capacity-providers",
            cluster_name=cluster.name,
            capacity_providers=providers,
            default_capacity_provider_strategy=[
                EcsClusterCapacityProvidersDefaultCapacityProviderStrategy(
                    capacity_provider="FARGATE", weight=1, base=0
                )
            ],
        )
        self.name: str = association.cluster_name
        # ECS cluster ARNs are `arn:<partition>:ecs:<region>:<account>:cluster/<name>`.
        self.arn: str = props.target.arn("ecs", f"cluster/{association.cluster_name}")
