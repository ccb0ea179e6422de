"""Network: a VPC over several AZs with public, private and isolated subnets, NAT only where
asked, VPC endpoints for the AWS APIs the workloads call, and flow logs.

Tiers (one subnet per AZ each):
- public: only the load balancer and NAT gateways live here; route to the internet gateway.
- private: ECS tasks and Lambda; reach AWS through VPC endpoints, the internet through NAT if any.
- isolated: databases; no route out of the VPC at all, and a network ACL that admits traffic
  from inside the VPC only.

Every subnet, route table and NAT gateway is keyed by its zone, and the VPC is carved for a
fixed number of zone slots: adding a zone adds its subnets and moves none of the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import Postcondition, TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.data_aws_availability_zones import (
    DataAwsAvailabilityZones,
    DataAwsAvailabilityZonesFilter,
)
from cdktf_cdktf_provider_aws.default_network_acl import (
    DefaultNetworkAcl,
    DefaultNetworkAclEgress,
    DefaultNetworkAclIngress,
)
from cdktf_cdktf_provider_aws.default_security_group import DefaultSecurityGroup
from cdktf_cdktf_provider_aws.eip import Eip
from cdktf_cdktf_provider_aws.flow_log import FlowLog
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.internet_gateway import InternetGateway
from cdktf_cdktf_provider_aws.nat_gateway import NatGateway
from cdktf_cdktf_provider_aws.network_acl import NetworkAcl
from cdktf_cdktf_provider_aws.network_acl_rule import NetworkAclRule
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
from modules.network_plan import DEFAULT_ZONE_SLOTS, NatMode, plan_subnets
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
# API calls that name no resource, so `aws:ResourceAccount` cannot match them: allowed through
# their endpoint for this account's principals only.
RESOURCELESS_ACTIONS: dict[str, tuple[str, ...]] = {
    "ecr.api": ("ecr:GetAuthorizationToken",),
    "sts": ("sts:GetCallerIdentity",),
}


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
    isolated_ports: tuple[int, ...] = (5432,)
    """TCP ports the isolated tier (databases) accepts from inside the VPC. @default (5432,)"""
    zone_slots: int = DEFAULT_ZONE_SLOTS
    """Zones the address plan leaves room for (at least the zones used): slot i belongs to zone i
    of `availability_zones`, so appending a zone later moves no subnet. @default 4"""
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
        require(
            all(0 < port < 65536 for port in self.isolated_ports),
            "NetworkProps.isolated_ports",
            self.isolated_ports,
            "must be TCP ports (1-65535)",
        )
        require(
            self.zone_slots >= self.az_count,
            "NetworkProps.zone_slots",
            self.zone_slots,
            f"must be at least the {self.az_count} zones used",
        )
        plan_subnets(self.vpc_cidr, self.zone_slots)  # raises if the CIDR cannot hold them

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
        plan = plan_subnets(props.vpc_cidr, props.zone_slots)
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

        # Zone i takes slot i of every tier: keyed by zone, never by position in a list.
        self._public = self._subnets(props.name, "public", plan.public)
        self._private = self._subnets(props.name, "private", plan.private)
        self._isolated = self._subnets(props.name, "isolated", plan.isolated)
        self.public_subnet_ids: list[str] = list(self._public.values())
        self.private_subnet_ids: list[str] = list(self._private.values())
        self.isolated_subnet_ids: list[str] = list(self._isolated.values())

        self._routes(props)
        self._network_acls(props)
        self._endpoints(props)
        self._flow_logs(props)

    def _subnets(self, name: str, tier: str, cidrs: tuple[str, ...]) -> dict[str, str]:
        """Subnet ids by zone name."""
        return {
            zone: Subnet(
                self,
                f"{tier}-{zone}",
                vpc_id=self._vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                # Even public subnets assign no public IPs: NAT uses Elastic IPs and the load
                # balancer manages its own addresses, so no instance gets one by accident.
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-{tier}-{zone}", "Tier": tier},
            ).id
            for zone, cidr in zip(self.zone_names, cidrs, strict=False)
        }

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
        for zone, subnet_id in self._public.items():
            RouteTableAssociation(
                self, f"public-rta-{zone}", route_table_id=public_rt.id, subnet_id=subnet_id
            )

        nat_zones = self.zone_names[: NatMode(props.nat_gateways).gateway_count(props.az_count)]
        nat_by_zone: dict[str, str] = {}
        for zone in nat_zones:
            eip = Eip(
                self, f"nat-eip-{zone}", domain="vpc", tags={"Name": f"{props.name}-nat-{zone}"}
            )
            nat_by_zone[zone] = NatGateway(
                self,
                f"nat-{zone}",
                allocation_id=eip.allocation_id,
                subnet_id=self._public[zone],
                tags={"Name": f"{props.name}-nat-{zone}"},
                depends_on=[igw],
            ).id

        # One private route table per AZ, so each AZ's traffic uses its own NAT gateway (or,
        # with a single one, the first zone's).
        self.private_route_table_ids: list[str] = []
        for zone, subnet_id in self._private.items():
            rt = RouteTable(
                self,
                f"private-rt-{zone}",
                vpc_id=self._vpc.id,
                tags={"Name": f"{props.name}-private-{zone}"},
            )
            if nat_by_zone:
                Route(
                    self,
                    f"private-default-{zone}",
                    route_table_id=rt.id,
                    destination_cidr_block="0.0.0.0/0",
                    nat_gateway_id=nat_by_zone.get(zone, nat_by_zone[nat_zones[0]]),
                )
            RouteTableAssociation(
                self, f"private-rta-{zone}", route_table_id=rt.id, subnet_id=subnet_id
            )
            self.private_route_table_ids.append(rt.id)

        # Isolated subnets get a table with the local route only: no path out of the VPC, and
        # no gateway endpoint either (the databases need no S3: RDS backs up through its own
        # service, not through the VPC).
        isolated_rt = RouteTable(
            self, "isolated-rt", vpc_id=self._vpc.id, tags={"Name": f"{props.name}-isolated"}
        )
        for zone, subnet_id in self._isolated.items():
            RouteTableAssociation(
                self, f"isolated-rta-{zone}", route_table_id=isolated_rt.id, subnet_id=subnet_id
            )
        self.isolated_route_table_id: str = isolated_rt.id

    def _network_acls(self, props: NetworkProps) -> None:
        # The default NACL is adopted so Terraform owns its rules (allow all: the security
        # groups filter the public and private tiers); subnets join it by not joining another.
        DefaultNetworkAcl(
            self,
            "default-nacl",
            default_network_acl_id=self._vpc.default_network_acl_id,
            ingress=[
                DefaultNetworkAclIngress(
                    rule_no=100, action="allow", protocol="-1", cidr_block="0.0.0.0/0",
                    from_port=0, to_port=0,
                )
            ],
            egress=[
                DefaultNetworkAclEgress(
                    rule_no=100, action="allow", protocol="-1", cidr_block="0.0.0.0/0",
                    from_port=0, to_port=0,
                )
            ],
            lifecycle=TerraformResourceLifecycle(ignore_changes=["subnet_ids"]),
            tags={"Name": f"{props.name}-default"},
        )  # fmt: skip
        # The isolated tier talks to the VPC only, whatever a security group says.
        isolated = NetworkAcl(
            self,
            "isolated-nacl",
            vpc_id=self._vpc.id,
            subnet_ids=self.isolated_subnet_ids,
            tags={"Name": f"{props.name}-isolated"},
        )
        # NACLs are stateless: the database ports in, and replies to the VPC's ephemeral ports
        # out; everything else, and anything from outside the VPC, is denied.
        for number, port in enumerate(props.isolated_ports):
            NetworkAclRule(
                self,
                f"isolated-nacl-ingress-{port}",
                network_acl_id=isolated.id,
                rule_number=100 + 10 * number,
                egress=False,
                protocol="tcp",
                from_port=port,
                to_port=port,
                rule_action="allow",
                cidr_block=props.vpc_cidr,
            )
        NetworkAclRule(
            self,
            "isolated-nacl-egress-replies",
            network_acl_id=isolated.id,
            rule_number=100,
            egress=True,
            protocol="tcp",
            from_port=1024,
            to_port=65535,
            rule_action="allow",
            cidr_block=props.vpc_cidr,
        )

    def _endpoints(self, props: NetworkProps) -> None:
        target = props.target
        this_account = {"aws:PrincipalAccount": target.account_id}
        VpcEndpoint(
            self,
            "s3-endpoint",
            vpc_id=self._vpc.id,
            service_name=f"com.amazonaws.{target.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=self.private_route_table_ids,
            # This account's buckets only (no copying data out to another account's bucket),
            # plus the AWS-owned bucket ECR serves image layers from.
            policy=policy_document(
                Statement(
                    sid="ThisAccountsBuckets",
                    principals={"AWS": "*"},
                    actions=["s3:*"],
                    resources=[target.arn("s3", "*"), target.arn("s3", "*/*")],
                    conditions={
                        "StringEquals": {**this_account, "aws:ResourceAccount": target.account_id}
                    },
                ),
                Statement(
                    sid="EcrImageLayers",
                    principals={"AWS": "*"},
                    actions=["s3:GetObject"],
                    resources=[target.arn("s3", f"prod-{target.region}-starport-layer-bucket/*")],
                    conditions={"StringEquals": this_account},
                ),
            ),
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
            # An endpoint policy spans every API of its service, so its resource is "*"; the
            # account conditions are the boundary: this account's principals, on this
            # account's resources.
            statements = [
                Statement(
                    sid="ThisAccountOnly",
                    principals={"AWS": "*"},
                    actions=["*"],
                    resources=["*"],
                    conditions={
                        "StringEquals": {**this_account, "aws:ResourceAccount": target.account_id}
                    },
                )
            ]
            if service in RESOURCELESS_ACTIONS:
                statements.append(
                    Statement(
                        sid="ThisAccountsResourcelessCalls",
                        principals={"AWS": "*"},
                        actions=list(RESOURCELESS_ACTIONS[service]),
                        resources=["*"],
                        conditions={"StringEquals": this_account},
                    )
                )
            VpcEndpoint(
                self,
                f"endpoint-{service.replace('.', '-')}",
                vpc_id=self._vpc.id,
                service_name=f"com.amazonaws.{target.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=self.private_subnet_ids,
                security_group_ids=[sg.id],
                policy=policy_document(*statements),
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
        role_policy = IamRolePolicy(
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
            # Delivery starts at creation: without its permissions the first logs are lost.
            depends_on=[role_policy],
        )
