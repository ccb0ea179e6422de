"""The Network construct, synthesized on a bare stack: one variant per NAT mode and zone count."""

from __future__ import annotations

import ipaddress
import itertools
from dataclasses import replace

import pytest

from modules.aws_target import AwsTarget
from modules.network import DEFAULT_INTERFACE_ENDPOINTS, NetworkProps
from modules.network_plan import NatMode, plan_subnets
from modules.props import PropsError
from tests.infra.conftest import synth_construct
from tests.infra.helpers import by_name_tag, one, policy, ref

TARGET = AwsTarget(account_id="111122223333", region="eu-west-1")
LOGS_KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ZONES = ("eu-west-1a", "eu-west-1b", "eu-west-1c")
EXPECTED = {
    "two-zones-single-nat": {"azs": 2, "nats": 1, "cidr": "10.10.0.0/16", "retention": 30, "nat": NatMode.SINGLE},
    "three-zones-nat-per-az": {"azs": 3, "nats": 3, "cidr": "10.20.0.0/16", "retention": 365, "nat": NatMode.PER_AZ},
    "two-zones-no-nat": {"azs": 2, "nats": 0, "cidr": "10.30.0.0/20", "retention": 7, "nat": NatMode.NONE},
}  # fmt: skip
VARIANTS = tuple(EXPECTED)


def _props(variant: str) -> NetworkProps:
    expected = EXPECTED[variant]
    return NetworkProps(
        name=f"net-{variant}",
        target=TARGET,
        vpc_cidr=expected["cidr"],
        availability_zones=ZONES[: expected["azs"]],
        flow_log_retention_days=expected["retention"],
        flow_log_kms_key_arn=LOGS_KEY,
        nat_gateways=expected["nat"],
    )


@pytest.fixture(scope="module")
def built():
    from modules.network import Network

    return {
        variant: synth_construct(lambda stack, v=variant: Network(stack, "network", _props(v)))[1]
        for variant in VARIANTS
    }


def _subnets(doc, tier):
    return {k: b for k, b in doc.resources("aws_subnet").items() if b["tags"]["Tier"] == tier}


def _routes_of(doc, route_table_key):
    return [
        r
        for r in doc.resources("aws_route").values()
        if r["route_table_id"] == ref("aws_route_table", route_table_key)
    ]


def _table_of(doc, subnet_key):
    (association,) = [
        a
        for a in doc.resources("aws_route_table_association").values()
        if a["subnet_id"] == ref("aws_subnet", subnet_key)
    ]
    return association["route_table_id"].split(".")[1]


@pytest.mark.parametrize("variant", VARIANTS)
def test_vpc_has_dns_for_private_endpoints(built, variant):
    doc = built[variant]
    vpc = one(doc.resources("aws_vpc"))

    assert vpc["cidr_block"] == EXPECTED[variant]["cidr"]
    assert vpc["enable_dns_support"] is True and vpc["enable_dns_hostnames"] is True


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("tier", ["public", "private", "isolated"])
def test_each_tier_has_one_subnet_per_configured_az(built, variant, tier):
    doc = built[variant]
    subnets = _subnets(doc, tier)
    zones = sorted(s["availability_zone"] for s in subnets.values())

    assert zones == sorted(ZONES[: EXPECTED[variant]["azs"]])


@pytest.mark.parametrize("variant", VARIANTS)
def test_zones_are_a_closed_set_checked_at_plan_time(built, variant):
    doc = built[variant]
    zones = one(doc.data("aws_availability_zones"))
    expected = list(ZONES[: EXPECTED[variant]["azs"]])

    assert zones["filter"] == [{"name": "zone-name", "values": expected}]
    (check,) = zones["lifecycle"]["postcondition"]
    assert check["condition"] == f"${{length(self.names) == {len(expected)}}}"


@pytest.mark.parametrize("variant", VARIANTS)
def test_no_subnet_maps_public_ips(built, variant):
    doc = built[variant]
    for subnet in doc.resources("aws_subnet").values():
        assert subnet["map_public_ip_on_launch"] is False, subnet["tags"]["Name"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_subnets_lie_inside_the_vpc_and_never_overlap(built, variant):
    doc = built[variant]
    vpc = ipaddress.IPv4Network(EXPECTED[variant]["cidr"])
    cidrs = [ipaddress.IPv4Network(s["cidr_block"]) for s in doc.resources("aws_subnet").values()]

    assert all(c.subnet_of(vpc) for c in cidrs)
    assert not any(a.overlaps(b) for a, b in itertools.combinations(cidrs, 2))


@pytest.mark.parametrize("variant", VARIANTS)
def test_only_public_subnets_route_to_the_internet_gateway(built, variant):
    doc = built[variant]
    igw_key = next(iter(doc.resources("aws_internet_gateway")))
    for tier in ("public", "private", "isolated"):
        for key in _subnets(doc, tier):
            routes = _routes_of(doc, _table_of(doc, key))
            to_igw = [
                r for r in routes if r.get("gateway_id") == ref("aws_internet_gateway", igw_key)
            ]
            assert bool(to_igw) == (tier == "public"), (tier, key)


@pytest.mark.parametrize("variant", VARIANTS)
def test_isolated_subnets_have_no_route_out_of_the_vpc(built, variant):
    doc = built[variant]
    for key in _subnets(doc, "isolated"):
        table = _table_of(doc, key)
        assert _routes_of(doc, table) == []
        assert not doc.resources("aws_route_table")[table].get("route")


@pytest.mark.parametrize("variant", VARIANTS)
def test_nat_gateway_count_follows_configuration(built, variant):
    doc = built[variant]
    nats = doc.resources("aws_nat_gateway")
    public = {ref("aws_subnet", k) for k in _subnets(doc, "public")}

    assert len(nats) == EXPECTED[variant]["nats"]
    assert {n["subnet_id"] for n in nats.values()} <= public


def test_with_a_nat_per_az_private_subnets_each_use_the_nat_of_their_own_az(built):
    doc = built["three-zones-nat-per-az"]
    nat_by_subnet = {
        n["subnet_id"]: ref("aws_nat_gateway", k)
        for k, n in doc.resources("aws_nat_gateway").items()
    }
    public = _subnets(doc, "public")
    nat_by_az = {
        public[k]["availability_zone"]: nat_by_subnet[ref("aws_subnet", k)] for k in public
    }

    for key, subnet in _subnets(doc, "private").items():
        (route,) = _routes_of(doc, _table_of(doc, key))
        assert route["destination_cidr_block"] == "0.0.0.0/0"
        assert route["nat_gateway_id"] == nat_by_az[subnet["availability_zone"]]


@pytest.mark.parametrize("variant", VARIANTS)
def test_s3_gateway_endpoint_serves_the_private_route_tables_only(built, variant):
    doc = built[variant]
    endpoints = doc.resources("aws_vpc_endpoint")
    (s3,) = [e for e in endpoints.values() if e["service_name"] == "com.amazonaws.eu-west-1.s3"]
    private_tables = {
        f"${{aws_route_table.{_table_of(doc, k)}.id}}" for k in _subnets(doc, "private")
    }

    assert s3["vpc_endpoint_type"] == "Gateway"
    assert set(s3["route_table_ids"]) == private_tables  # the isolated tier reaches no S3


def test_s3_endpoint_policy_allows_this_accounts_buckets_and_ecr_layers_only(built):
    doc = built["two-zones-single-nat"]
    (s3,) = [e for e in doc.resources("aws_vpc_endpoint").values() if e["vpc_endpoint_type"] == "Gateway"]  # fmt: skip
    statements = {st["Sid"]: st for st in policy(s3)["Statement"]}

    assert set(statements) == {"ThisAccountsBuckets", "EcrImageLayers"}
    own = statements["ThisAccountsBuckets"]
    assert own["Resource"] == ["arn:aws:s3:::*", "arn:aws:s3:::*/*"]
    assert own["Condition"] == {
        "StringEquals": {
            "aws:PrincipalAccount": "111122223333",
            "aws:ResourceAccount": "111122223333",
        }
    }
    layers = statements["EcrImageLayers"]
    assert layers["Action"] == "s3:GetObject"
    assert layers["Resource"] == "arn:aws:s3:::prod-eu-west-1-starport-layer-bucket/*"
    assert all(st["Effect"] == "Allow" for st in statements.values())


def test_every_interface_endpoint_policy_is_limited_to_this_account(built):
    doc = built["two-zones-single-nat"]
    for endpoint in doc.resources("aws_vpc_endpoint").values():
        if endpoint["vpc_endpoint_type"] != "Interface":
            continue
        statements = policy(endpoint)["Statement"]
        for statement in statements:
            assert statement["Condition"]["StringEquals"]["aws:PrincipalAccount"] == "111122223333"
        scoped = [st for st in statements if st["Action"] == "*"]
        assert [st["Condition"]["StringEquals"]["aws:ResourceAccount"] for st in scoped] == ["111122223333"]  # fmt: skip
        unscoped = {a for st in statements if st["Action"] != "*" for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])}  # fmt: skip
        assert unscoped <= {"ecr:GetAuthorizationToken", "sts:GetCallerIdentity"}


def test_isolated_subnets_have_a_network_acl_admitting_the_vpc_only(built):
    doc = built["three-zones-nat-per-az"]
    (acl_key, acl) = next(iter(doc.resources("aws_network_acl").items()))
    rules = doc.resources("aws_network_acl_rule").values()

    assert sorted(acl["subnet_ids"]) == sorted(
        ref("aws_subnet", k) for k in _subnets(doc, "isolated")
    )
    assert sorted(r["egress"] for r in rules) == [False, True]
    for rule in rules:
        assert rule["network_acl_id"] == ref("aws_network_acl", acl_key)
        assert rule["cidr_block"] == "10.20.0.0/16" and rule["rule_action"] == "allow"


def test_default_network_acl_is_adopted_with_explicit_rules(built):
    default = one(built["two-zones-single-nat"].resources("aws_default_network_acl"))

    assert default["default_network_acl_id"].startswith("${aws_vpc.")
    assert len(default["ingress"]) == 1 and len(default["egress"]) == 1
    assert default["lifecycle"]["ignore_changes"] == ["subnet_ids"]


def test_flow_log_waits_for_its_role_policy(built):
    doc = built["two-zones-single-nat"]
    flow_log = one(doc.resources("aws_flow_log"))
    (policy_key,) = doc.resources("aws_iam_role_policy")

    assert f"aws_iam_role_policy.{policy_key}" in flow_log["depends_on"]


def test_adding_a_zone_moves_no_subnet():
    """Zone i keeps its subnets, addresses and Terraform addresses when a zone is appended."""
    from modules.network import Network

    def subnets(zone_count):
        props = replace(_props("three-zones-nat-per-az"), availability_zones=ZONES[:zone_count])
        _, doc = synth_construct(lambda stack: Network(stack, "network", props), name="zones")
        return {k: (b["cidr_block"], b["availability_zone"]) for k, b in doc.resources("aws_subnet").items()}  # fmt: skip

    two, three = subnets(2), subnets(3)
    assert len(two) == 6 and len(three) == 9
    assert {k: three[k] for k in two} == two


def test_zone_i_gets_the_same_blocks_whatever_the_zone_count():
    plan = plan_subnets("10.0.0.0/16")
    assert plan == plan_subnets("10.0.0.0/16", 4)
    assert plan.private[:2] == ("10.0.0.0/19", "10.0.32.0/19")
    with pytest.raises(PropsError, match=r"NetworkProps\.zone_slots"):
        replace(_props("two-zones-single-nat"), zone_slots=1)


@pytest.mark.parametrize("variant", VARIANTS)
def test_interface_endpoints_with_private_dns_in_private_subnets(built, variant):
    doc = built[variant]
    endpoints = {
        e["service_name"].removeprefix("com.amazonaws.eu-west-1."): e
        for e in doc.resources("aws_vpc_endpoint").values()
        if e["vpc_endpoint_type"] == "Interface"
    }
    private = sorted(ref("aws_subnet", k) for k in _subnets(doc, "private"))

    assert sorted(endpoints) == sorted(
        ["secretsmanager", "ecr.api", "ecr.dkr", "logs", "sts", "kms", "cassandra"]
    )
    for service, endpoint in endpoints.items():
        assert endpoint["private_dns_enabled"] is True, service
        assert sorted(endpoint["subnet_ids"]) == private, service
        assert len(endpoint["security_group_ids"]) == 1


@pytest.mark.parametrize("variant", VARIANTS)
def test_endpoint_security_group_allows_only_443_and_9142_from_the_vpc(built, variant):
    doc = built[variant]
    sg_key, sg = by_name_tag(doc.resources("aws_security_group"), f"net-{variant}-vpc-endpoints")
    rules = [
        r
        for r in doc.resources("aws_vpc_security_group_ingress_rule").values()
        if r["security_group_id"] == ref("aws_security_group", sg_key)
    ]

    assert "ingress" not in sg and "egress" not in sg
    assert sorted((r["from_port"], r["to_port"]) for r in rules) == [(443, 443), (9142, 9142)]
    for rule in rules:
        assert rule["ip_protocol"] == "tcp"
        assert rule["cidr_ipv4"] == EXPECTED[variant]["cidr"]
        assert rule["description"]
    assert sg["description"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_default_security_group_is_stripped_of_all_rules(built, variant):
    doc = built[variant]
    default = one(doc.resources("aws_default_security_group"))

    assert default["vpc_id"].startswith("${aws_vpc.")
    assert not default.get("ingress") and not default.get("egress")


@pytest.mark.parametrize("variant", VARIANTS)
def test_flow_logs_capture_all_traffic_into_a_kms_encrypted_group(built, variant):
    doc = built[variant]
    flow_log = one(doc.resources("aws_flow_log"))
    group_key, group = next(iter(doc.resources("aws_cloudwatch_log_group").items()))

    assert flow_log["traffic_type"] == "ALL"
    assert flow_log["log_destination"] == ref("aws_cloudwatch_log_group", group_key, "arn")
    assert group["retention_in_days"] == EXPECTED[variant]["retention"]
    assert group["kms_key_id"] == LOGS_KEY


@pytest.mark.parametrize("variant", VARIANTS)
def test_flow_log_role_is_limited_to_its_log_group(built, variant):
    doc = built[variant]
    role = one(doc.resources("aws_iam_role"))
    document = policy(one(doc.resources("aws_iam_role_policy")))
    group = f"arn:aws:logs:eu-west-1:111122223333:log-group:/vpc/net-{variant}/flow-logs"
    trust = policy(role, "assume_role_policy")["Statement"][0]

    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": "111122223333"}
    statements = {s["Sid"]: s for s in document["Statement"]}
    assert statements["WriteOwnLogGroup"]["Resource"] == [group, f"{group}:*"]
    for statement in document["Statement"]:
        assert "*" not in (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )


def test_subnet_plan_gives_private_subnets_the_most_room():
    plan = plan_subnets("10.0.0.0/16", 3)

    assert plan.private == ("10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19")
    assert plan.public == ("10.0.128.0/20", "10.0.144.0/20", "10.0.160.0/20")
    assert plan.isolated == ("10.0.192.0/20", "10.0.208.0/20", "10.0.224.0/20")


def test_network_props_reject_a_vpc_too_small_for_its_zone_slots():
    with pytest.raises(
        ValueError, match=r"NetworkProps.vpc_cidr: '10.0.0.0/24': too small for 8 zone slots"
    ):
        NetworkProps(zone_slots=8,
            name="x-dev", target=AwsTarget("111122223333", "us-east-1"), vpc_cidr="10.0.0.0/24",
            availability_zones=tuple(f"us-east-1{s}" for s in "abcdef"), flow_log_retention_days=30, flow_log_kms_key_arn="arn",
        )  # fmt: skip


def test_network_props_default_to_every_endpoint_and_nat_per_az():
    props = NetworkProps(
        name="x-dev", target=AwsTarget("111122223333", "eu-west-1"), vpc_cidr="10.0.0.0/16",
        availability_zones=("eu-west-1a", "eu-west-1b"), flow_log_retention_days=30, flow_log_kms_key_arn="arn",
    )  # fmt: skip

    assert props.nat_gateways == NatMode.PER_AZ
    assert props.interface_endpoints == DEFAULT_INTERFACE_ENDPOINTS


def test_without_nat_private_subnets_have_no_default_route(built):
    doc = built["two-zones-no-nat"]

    assert doc.resources("aws_nat_gateway") == {} and doc.resources("aws_eip") == {}
    for key in _subnets(doc, "private"):
        assert _routes_of(doc, _table_of(doc, key)) == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"availability_zones": ("eu-west-1a",)}, "NetworkProps.availability_zones"),
        ({"availability_zones": ("eu-west-1a", "eu-west-1a")}, "NetworkProps.availability_zones"),
        ({"nat_gateways": "sometimes"}, "NetworkProps.nat_gateways"),
        ({"vpc_cidr": "10.0.0.0/26"}, "NetworkProps.vpc_cidr"),
        ({"isolated_ports": (0,)}, "NetworkProps.isolated_ports"),
    ],
)
def test_bad_props_fail_with_the_field_named(overrides, field):
    with pytest.raises(PropsError, match=f"^{field}: "):
        replace(_props("two-zones-single-nat"), **overrides)
