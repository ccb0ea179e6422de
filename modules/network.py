"""Network: a VPC over several AZs with public, private and isolated subnets, NAT only where
asked, VPC endpoints for the AWS APIs the workloads call, and flow logs.

Tiers (one subnet per AZ each):
- public: only the load balancer and NAT gateways live here; route to the internet gateway.
- private: ECS tasks and Lambda; reach AWS through VPC endpoints, the internet through NAT if any.
- isolated: databases; no route out of the VPC at all.
"""

from __future__ import annotations

from dataclasses import dataclass

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

from modules.aws_target import AwsTarget
from modules.network_plan import NatMode, plan_subnets
from modules.policy import Statement, policy_document, service_assume_role_policy
from modules.props import PropsError, require

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


@dataclass(frozen=True)
class NetworkProps:
    """Props of `Network`."""

    name: str
    """Prefix of every resource name, e.g. `checkins-prod`."""
    target: AwsTarget
    vpc_cidr: str
    availability_zones: tuple[str, ...]
    """Zone names, one subnet per tier in each; at least 2. Literal names keep the set closed:
    a zone AWS adds later never shifts a subnet."""
    flow_log_retention_days: int
    flow_log_kms_key_arn: str
    """Customer-managed key that encrypts the flow-log group (its policy must allow Logs)."""
    nat_gateways: NatMode = NatMode.PER_AZ
    """`per_az` (highly available), `single` (cheap) or `none` (endpoints only). @default per_az"""
    interface_endpoints: tuple[str, ...] = DEFAULT_INTERFACE_ENDPOINTS
    """AWS services reached privately through interface endpoints. @default the seven above"""
    prevent_destroy: bool = True
    """Terraform refuses to destroy the flow-log group (the network's audit trail). Opt out for
    throw-away environments. @default True"""

    def __post_init__(self) -> None:
        zones = self.availability_zones
        require(
            len(zones) >= 2 and len(set(zones)) == len(zones),
            "NetworkProps.availability_zones",
            zones,
            "must name at least 2 distinct zones",
        )
        try:
            NatMode(self.nat_gateways)
        except ValueError:
            raise PropsError(
                "NetworkProps.nat_gateways",
                self.nat_gateways,
                f"must be one of {', '.join(m.value for m in NatMode)}",
            ) from None
        plan_subnets(self.vpc_cidr, self.az_count)  # raises if the CIDR cannot hold the subnets

    @property
    def az_count(self) -> int:
        return len(self.availability_zones)


class Network(Construct):
    """The VPC and everything every workload inside it shares.

    Attributes: `vpc_id`, `zone_names`, `public_subnet_ids`, `private_subnet_ids`,
    `isolated_subnet_ids`, `private_route_table_ids`, `isolated_route_table_id`,
    `endpoint_security_group_id`.
    """

    def __init__(self, scope: Construct, id_: str, props: NetworkProps) -> None:
        super().__init__(scope, id_)
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

        self._vpc = Vpc(
            self,
            "vpc",
            cidr_block=props.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,  # required by interface endpoints' private DNS
            tags={"Name": props.name},
        )
        self.vpc_id: str = self._vpc.id
        # Adopting the default security group strips all its rules: nothing uses it by accident.
        DefaultSecurityGroup(
            self, "default-sg", vpc_id=self._vpc.id, tags={"Name": f"{props.name}-default-deny"}
        )

        public = self._subnets(props.name, "public", plan.public)
        private = self._subnets(props.name, "private", plan.private)
        isolated = self._subnets(props.name, "isolated", plan.isolated)
        self.public_subnet_ids: list[str] = [s.id for s in public]
        self.private_subnet_ids: list[str] = [s.id for s in private]
        self.isolated_subnet_ids: list[str] = [s.id for s in isolated]

        self._routes(props)
        self._endpoints(props)
        self._flow_logs(props)

    def _subnets(self, name: str, tier: str, cidrs: tuple[str, ...]) -> list[Subnet]:
        return [
            Subnet(
                self,
                f"{tier}-{i}",
                vpc_id=self._vpc.id,
                cidr_block=cidr,
                availability_zone=self.zone_names[i],
                # Even public subnets assign no public IPs: NAT uses Elastic IPs and the load
                # balancer manages its own addresses, so no instance gets one by accident.
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-{tier}-{i}", "Tier": tier},
            )
            for i, cidr in enumerate(cidrs)
        ]

    def _routes(self, props: NetworkProps) -> None:
        igw = InternetGateway(self, "igw", vpc_id=self._vpc.id, tags={"Name": props.name})
        public_rt = RouteTable(
            self, "public-rt", vpc_id=self._vpc.id, tags={"Name": f"{props.name}-public"}
        )
        Route(
            self,
            "public-default",
            route_table_id=public_rt.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
        )
        for i, subnet_id in enumerate(self.public_subnet_ids):
            RouteTableAssociation(
                self, f"public-rta-{i}", route_table_id=public_rt.id, subnet_id=subnet_id
            )

        nat_count = NatMode(props.nat_gateways).gateway_count(props.az_count)
        nat_ids = []
        for i in range(nat_count):
            eip = Eip(self, f"nat-eip-{i}", domain="vpc", tags={"Name": f"{props.name}-nat-{i}"})
            nat = NatGateway(
                self,
                f"nat-{i}",
                allocation_id=eip.allocation_id,
                subnet_id=self.public_subnet_ids[i],
                tags={"Name": f"{props.name}-nat-{i}"},
                depends_on=[igw],
            )
            nat_ids.append(nat.id)

        # One private route table per AZ, so each AZ's traffic uses its own NAT gateway.
        self.private_route_table_ids: list[str] = []
        for i, subnet_id in enumerate(self.private_subnet_ids):
            rt = RouteTable(
                self,
                f"private-rt-{i}",
                vpc_id=self._vpc.id,
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
                self, f"private-rta-{i}", route_table_id=rt.id, subnet_id=subnet_id
            )
            self.private_route_table_ids.append(rt.id)

        # Isolated subnets get a table with the local route only: no path out of the VPC.
        isolated_rt = RouteTable(
            self, "isolated-rt", vpc_id=self._vpc.id, tags={"Name": f"{props.name}-isolated"}
        )
        for i, subnet_id in enumerate(self.isolated_subnet_ids):
            RouteTableAssociation(
                self, f"isolated-rta-{i}", route_table_id=isolated_rt.id, subnet_id=subnet_id
            )
        self.isolated_route_table_id: str = isolated_rt.id

    def _endpoints(self, props: NetworkProps) -> None:
        VpcEndpoint(
            self,
            "s3-endpoint",
            vpc_id=self._vpc.id,
            service_name=f"com.amazonaws.{props.target.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[*self.private_route_table_ids, self.isolated_route_table_id],
            tags={"Name": f"{props.name}-s3"},
        )
        sg = SecurityGroup(
            self,
            "endpoint-sg",
            name=f"{props.name}-vpc-endpoints",
            description="Interface VPC endpoints: HTTPS and Keyspaces TLS from inside the VPC only",
            vpc_id=self._vpc.id,
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
        for service in props.interface_endpoints:
            VpcEndpoint(
                self,
                f"endpoint-{service.replace('.', '-')}",
                vpc_id=self._vpc.id,
                service_name=f"com.amazonaws.{props.target.region}.{service}",
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
            lifecycle=TerraformResourceLifecycle(prevent_destroy=True)
            if props.prevent_destroy
            else None,
        )
        target = props.target
        log_group_arn = target.arn("logs", f"log-group:{log_group_name}")
        role = IamRole(
            self,
            "flow-log-role",
            name=f"{props.name}-vpc-flow-logs",
            description="Lets VPC Flow Logs deliver to its own log group",
            assume_role_policy=service_assume_role_policy(
                "vpc-flow-logs.amazonaws.com",
                target.account_id,
                target.arn("ec2", "vpc-flow-log/*"),
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
                    resources=[target.arn("logs", "log-group:*")],
                ),
            ),
        )
        FlowLog(
            self,
            "flow-log",
            vpc_id=self._vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags={"Name": f"{props.name}-flow-logs"},
        )
