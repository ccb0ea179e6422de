"""Network: a VPC over several AZs with public, private and isolated subnets, NAT only where
asked, VPC endpoints for the AWS APIs the workloads call, and flow logs.

Tiers (one subnet per AZ each):
- public: only the load balancer and NAT gateways live here; route to the internet gateway.
- private: ECS tasks and Lambda; reach AWS through VPC endpoints, the internet through NAT if any.
- isolated: databases; no route out of the VPC at all.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from cdktf import Postcondition, TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.data_aws_availability_zones import (
    DataAwsAvailabilityZones,
    DataAwsAvailabilityZonesFilter,
)
from cdktf_cdktf_provider_aws.default_security_group import DefaultSecurityGroup
from cdktf_cdktf_provider_aws.eip import Eip
from cdktf_cdktf_provider_aws.flow_log import FlowLog
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.internet_gateway import InternetGateway
from cdktf_cdktf_provider_aws.nat_gateway import NatGateway
from cdktf_cdktf_provider_aws.route import Route
from cdktf_cdktf_provider_aws.route_table import RouteTable
from cdktf_cdktf_provider_aws.route_table_association import RouteTableAssociation
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.subnet import Subnet
from cdktf_cdktf_provider_aws.vpc import Vpc
from cdktf_cdktf_provider_aws.vpc_endpoint import VpcEndpoint
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from modules.policy import Statement, policy_document, service_assume_role_policy

NatGateways = Literal["none", "single", "per_az"]

# Interface endpoints every workload needs; `cassandra` is Amazon Keyspaces (TLS on 9142).
DEFAULT_INTERFACE_ENDPOINTS: tuple[str, ...] = (
    "secretsmanager",
    "ecr.api",
    "ecr.dkr",
    "logs",
    "sts",
    "kms",
    "cassandra",
)
ENDPOINT_PORTS: tuple[int, ...] = (443, 9142)
_SMALLEST_SUBNET_PREFIX = 28  # AWS refuses subnets smaller than /28


@dataclass(frozen=True)
class SubnetPlan:
    """CIDR blocks per tier, index i in AZ i."""

    public: tuple[str, ...]
    private: tuple[str, ...]
    isolated: tuple[str, ...]


def plan_subnets(vpc_cidr: str, az_count: int) -> SubnetPlan:
    """Carve the VPC: half for private subnets (tasks scale there), a quarter each for public and
    isolated. Pure and deterministic, so the layout never moves between synths."""
    network = ipaddress.IPv4Network(vpc_cidr)
    slots = 1 << (az_count - 1).bit_length()  # next power of two >= az_count
    private_half, rest = network.subnets(prefixlen_diff=1)
    public_quarter, isolated_quarter = rest.subnets(prefixlen_diff=1)

    def split(block: ipaddress.IPv4Network) -> tuple[str, ...]:
        if block.prefixlen + slots.bit_length() - 1 > _SMALLEST_SUBNET_PREFIX:
            raise ValueError(
                f"NetworkProps.vpc_cidr: {vpc_cidr!r} is too small for {az_count} AZs "
                f"(subnets would be smaller than /{_SMALLEST_SUBNET_PREFIX})"
            )
        parts = list(block.subnets(prefixlen_diff=slots.bit_length() - 1))
        return tuple(str(p) for p in parts[:az_count])

    return SubnetPlan(
        public=split(public_quarter), private=split(private_half), isolated=split(isolated_quarter)
    )


@dataclass(frozen=True)
class NetworkProps:
    """Props of `Network`."""

    name: str
    """Prefix of every resource name, e.g. `checkins-prod`."""
    region: str
    account_id: str
    vpc_cidr: str
    availability_zones: tuple[str, ...]
    """Zone names, one subnet per tier in each; at least 2. Literal names keep the set closed:
    a zone AWS adds later never shifts a subnet."""
    flow_log_retention_days: int
    flow_log_kms_key_arn: str
    """Customer-managed key that encrypts the flow-log group (its policy must allow Logs)."""
    nat_gateways: NatGateways = "per_az"
    """`per_az` (highly available), `single` (cheap) or `none` (endpoints only). @default per_az"""
    interface_endpoints: tuple[str, ...] = DEFAULT_INTERFACE_ENDPOINTS
    """AWS services reached privately through interface endpoints. @default the seven above"""

    def __post_init__(self) -> None:
        if len(self.availability_zones) < 2 or len(set(self.availability_zones)) != len(
            self.availability_zones
        ):
            raise ValueError(
                f"NetworkProps.availability_zones: {self.availability_zones!r} "
                "must name at least 2 distinct zones"
            )
        if self.nat_gateways not in ("none", "single", "per_az"):
            raise ValueError(f"NetworkProps.nat_gateways: {self.nat_gateways!r} is not valid")
        plan_subnets(self.vpc_cidr, self.az_count)  # raises if the CIDR cannot hold the subnets

    @property
    def az_count(self) -> int:
        return len(self.availability_zones)


class Network(Construct):
    """The VPC; exposes `vpc_id`, the subnet id lists per tier, route table ids and
    `endpoint_security_group_id` for the constructs that run inside it."""

    def __init__(self, scope: Construct, id_: str, props: NetworkProps) -> None:
        super().__init__(scope, id_)
        self.props = props
        plan = plan_subnets(props.vpc_cidr, props.az_count)
        # Fails the plan, naming the zones, if any configured zone is not available here.
        DataAwsAvailabilityZones(
            self,
            "zones",
            state="available",
            filter=[
                DataAwsAvailabilityZonesFilter(
                    name="zone-name", values=list(props.availability_zones)
                )
            ],
            lifecycle=TerraformResourceLifecycle(
                postcondition=[
                    Postcondition(
                        condition=f"${{length(self.names) == {props.az_count}}}",
                        error_message=(
                            "Not every configured Availability Zone is available: "
                            + ", ".join(props.availability_zones)
                        ),
                    )
                ]
            ),
        )
        self.zone_names = list(props.availability_zones)

        self.vpc = Vpc(
            self,
            "vpc",
            cidr_block=props.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,  # required by interface endpoints' private DNS
            tags={"Name": props.name},
        )
        self.vpc_id: str = self.vpc.id
        # Adopting the default security group strips all its rules: nothing uses it by accident.
        DefaultSecurityGroup(
            self, "default-sg", vpc_id=self.vpc.id, tags={"Name": f"{props.name}-default-deny"}
        )

        self.public_subnets = self._subnets("public", plan.public)
        self.private_subnets = self._subnets("private", plan.private)
        self.isolated_subnets = self._subnets("isolated", plan.isolated)
        self.public_subnet_ids = [s.id for s in self.public_subnets]
        self.private_subnet_ids = [s.id for s in self.private_subnets]
        self.isolated_subnet_ids = [s.id for s in self.isolated_subnets]

        self._routes(props)
        self._endpoints(props)
        self._flow_logs(props)

    def _subnets(self, tier: str, cidrs: tuple[str, ...]) -> list[Subnet]:
        return [
            Subnet(
                self,
                f"{tier}-{i}",
                vpc_id=self.vpc.id,
                cidr_block=cidr,
                availability_zone=self.zone_names[i],
                # Even public subnets assign no public IPs: NAT uses Elastic IPs and the load
                # balancer manages its own addresses, so no instance gets one by accident.
                map_public_ip_on_launch=False,
                tags={"Name": f"{self.props.name}-{tier}-{i}", "Tier": tier},
            )
            for i, cidr in enumerate(cidrs)
        ]

    def _routes(self, props: NetworkProps) -> None:
        igw = InternetGateway(self, "igw", vpc_id=self.vpc.id, tags={"Name": props.name})
        public_rt = RouteTable(
            self, "public-rt", vpc_id=self.vpc.id, tags={"Name": f"{props.name}-public"}
        )
        Route(
            self,
            "public-default",
            route_table_id=public_rt.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
        )
        for i, subnet in enumerate(self.public_subnets):
            RouteTableAssociation(
                self, f"public-rta-{i}", route_table_id=public_rt.id, subnet_id=subnet.id
            )

        nat_count = {"none": 0, "single": 1, "per_az": props.az_count}[props.nat_gateways]
        nat_ids = []
        for i in range(nat_count):
            eip = Eip(self, f"nat-eip-{i}", domain="vpc", tags={"Name": f"{props.name}-nat-{i}"})
            nat = NatGateway(
                self,
                f"nat-{i}",
                allocation_id=eip.allocation_id,
                subnet_id=self.public_subnets[i].id,
                tags={"Name": f"{props.name}-nat-{i}"},
                depends_on=[igw],
            )
            nat_ids.append(nat.id)

        # One private route table per AZ, so each AZ's traffic uses its own NAT gateway.
        self.private_route_table_ids: list[str] = []
        for i, subnet in enumerate(self.private_subnets):
            rt = RouteTable(
                self,
                f"private-rt-{i}",
                vpc_id=self.vpc.id,
                tags={"Name": f"{props.name}-private-{i}"},
            )
            if nat_ids:
                Route(
                    self,
                    f"private-default-{i}",
                    route_table_id=rt.id,
                    destination_cidr_block="0.0.0.0/0",
                    nat_gateway_id=nat_ids[i % len(nat_ids)],
                )
            RouteTableAssociation(
                self, f"private-rta-{i}", route_table_id=rt.id, subnet_id=subnet.id
            )
            self.private_route_table_ids.append(rt.id)

        # Isolated subnets get a table with the local route only: no path out of the VPC.
        isolated_rt = RouteTable(
            self, "isolated-rt", vpc_id=self.vpc.id, tags={"Name": f"{props.name}-isolated"}
        )
        for i, subnet in enumerate(self.isolated_subnets):
            RouteTableAssociation(
                self, f"isolated-rta-{i}", route_table_id=isolated_rt.id, subnet_id=subnet.id
            )
        self.isolated_route_table_id: str = isolated_rt.id

    def _endpoints(self, props: NetworkProps) -> None:
        VpcEndpoint(
            self,
            "s3-endpoint",
            vpc_id=self.vpc.id,
            service_name=f"com.amazonaws.{props.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[*self.private_route_table_ids, self.isolated_route_table_id],
            tags={"Name": f"{props.name}-s3"},
        )
        sg = SecurityGroup(
            self,
            "endpoint-sg",
            name=f"{props.name}-vpc-endpoints",
            description="Interface VPC endpoints: HTTPS and Keyspaces TLS from inside the VPC only",
            vpc_id=self.vpc.id,
            tags={"Name": f"{props.name}-vpc-endpoints"},
        )
        for port in ENDPOINT_PORTS:
            VpcSecurityGroupIngressRule(
                self,
                f"endpoint-ingress-{port}",
                security_group_id=sg.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                cidr_ipv4=props.vpc_cidr,
                description=f"TLS {port} from inside the VPC",
            )
        self.endpoint_security_group_id: str = sg.id
        self.interface_endpoints: dict[str, VpcEndpoint] = {}
        for service in props.interface_endpoints:
            self.interface_endpoints[service] = VpcEndpoint(
                self,
                f"endpoint-{service.replace('.', '-')}",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{props.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=self.private_subnet_ids,
                security_group_ids=[sg.id],
                tags={"Name": f"{props.name}-{service}"},
            )

    def _flow_logs(self, props: NetworkProps) -> None:
        log_group_name = f"/vpc/{props.name}/flow-logs"
        log_group = CloudwatchLogGroup(
            self,
            "flow-log-group",
            name=log_group_name,
            retention_in_days=props.flow_log_retention_days,
            kms_key_id=props.flow_log_kms_key_arn,
        )
        log_group_arn = f"arn:aws:logs:{props.region}:{props.account_id}:log-group:{log_group_name}"
        role = IamRole(
            self,
            "flow-log-role",
            name=f"{props.name}-vpc-flow-logs",
            description="Lets VPC Flow Logs deliver to its own log group",
            assume_role_policy=service_assume_role_policy(
                "vpc-flow-logs.amazonaws.com",
                props.account_id,
                f"arn:aws:ec2:{props.region}:{props.account_id}:vpc-flow-log/*",
            ),
        )
        IamRolePolicy(
            self,
            "flow-log-policy",
            name="deliver-flow-logs",
            role=role.id,
            policy=policy_document(
                Statement(
                    sid="WriteOwnLogGroup",
                    actions=[
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:DescribeLogStreams",
                    ],
                    resources=[log_group_arn, f"{log_group_arn}:*"],
                ),
                Statement(
                    # DescribeLogGroups cannot be scoped to one group; this account's groups is
                    # the narrowest ARN AWS accepts.
                    sid="FindLogGroup",
                    actions=["logs:DescribeLogGroups"],
                    resources=[f"arn:aws:logs:{props.region}:{props.account_id}:log-group:*"],
                ),
            ),
        )
        FlowLog(
            self,
            "flow-log",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags={"Name": f"{props.name}-flow-logs"},
        )
