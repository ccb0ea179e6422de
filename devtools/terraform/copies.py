"""The test copies of a synthesized stack, and every way they differ from it, with the reason.

Two copies per stack, both written by pure functions of the stack's JSON so they can be tested
on small documents:

- the *full* copy (`terraform init -backend=false`, `validate`, `plan`): every resource;
- the *applied* copy (`apply`, the re-plan, `destroy`): minus what the emulator cannot create.

Both run the provider against the emulator (`endpoints`, fake keys) and, where this machine's
Terraform or provider is older than the stacks ask for, relax `required_version`, pin the
provider and strip the arguments that provider lacks. Each difference comes from one of the
commented lists below and is recorded in `CopyNotes`, which the output prints per stack.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Doc = dict[str, Any]


@dataclass(frozen=True)
class NewerArgument:
    """An argument that only a newer provider accepts: stripped where the provider lacks it."""

    resource_type: str  # "*" = any resource or data source type
    argument: str  # dotted for nested blocks: "rule.filter.object_size_greater_than"
    reason: str


# Stripped from both copies only where the provider that runs does not accept the argument (its
# schema says so): with hashicorp/aws >= 6.25 nothing here is stripped. Found by running
# `validate` of every stack against hashicorp/aws 5.100.0; add an entry with its reason when a
# stack starts to use another 6.x-only argument.
NEWER_PROVIDER_ARGUMENTS: tuple[NewerArgument, ...] = (
    NewerArgument(
        "*",
        "region",
        "6.0 'enhanced region support': a per-resource region; a 5.x copy creates the "
        "resource in the provider's region instead",
    ),
)

# Resource types the emulator (moto) cannot create: left out of the applied copy, still
# validated and planned in the full copy. Whatever refers to them (an output, a resource whose
# arguments name their attributes) is left out with them; a `depends_on` on them is dropped.
EMULATOR_CANNOT_CREATE: dict[str, str] = {
    "aws_keyspaces_keyspace": "moto has no Amazon Keyspaces API: the create call waits forever",
    "aws_keyspaces_table": "moto has no Amazon Keyspaces API: the create call waits forever",
    "aws_secretsmanager_secret_rotation": "configuring rotation makes Secrets Manager invoke the "
    "rotation Lambda at once, and moto runs a Lambda only in Docker, which the build machines "
    "lack",
}

# Attributes the emulator reads back differently from what was sent, so the re-plan would show a
# diff that real AWS does not. Mechanism: `lifecycle.ignore_changes` on those resources in the
# applied copy. The attribute is still sent on create (the apply still exercises it); only the
# read-back comparison of that one attribute is switched off, by Terraform itself, and every
# other attribute of the resource must still re-plan clean.
EMULATOR_READS_BACK_WRONG: dict[tuple[str, str], str] = {
    ("aws_kms_key", "rotation_period_in_days"): "moto returns 0 instead of the period it was given",
    ("aws_vpc_security_group_egress_rule", "description"): "moto returns no description for an "
    "egress rule",
    ("aws_vpc_security_group_ingress_rule", "description"): "moto returns no description for an "
    "ingress rule that names a security group (one with a CIDR keeps it)",
    **{
        ("aws_db_instance", attribute): "moto 5.2 stores no Performance/Database Insights, "
        "extended-support or network-type setting of a DB instance and reads them back empty"
        for attribute in (
            "database_insights_mode",
            "engine_lifecycle_support",
            "network_type",
            "performance_insights_enabled",
            "performance_insights_kms_key_id",
            "performance_insights_retention_period",
        )
    },
    ("aws_db_parameter_group", "parameter"): "the provider reads none of the group's parameters "
    "back from moto's DescribeDBParameters, though the apply sent them (ModifyDBParameterGroup)",
}

# Bucket-policy statements the emulator misjudges: moto evaluates a bucket policy on object
# requests without any request context, so a statement conditioned on these keys counts as
# "deny" for every object request (a TLS-only Deny would refuse Terraform's own state writes).
# Dropped from literal `aws_s3_bucket_policy.policy` documents in the applied copy only.
EMULATOR_LACKS_CONDITION_KEYS: dict[str, str] = {
    "aws:SecureTransport": "moto never passes the request's transport to policy conditions",
    "s3:TlsVersion": "moto never passes the request's TLS version to policy conditions",
}


@dataclass
class CopyNotes:
    """What a copy changed, for the output. Every list holds human-readable lines."""

    relaxed: list[str] = field(default_factory=list)
    stripped: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    emulator: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out: list[str] = []
        for title, items in (
            ("relaxed", self.relaxed),
            ("stripped (newer provider only)", self.stripped),
            ("left out of the apply (emulator cannot create)", self.left_out),
            ("ignored on re-plan (emulator reads back wrong)", self.ignored),
            ("changed for the emulator", self.emulator),
        ):
            out.extend(f"{title}: {item}" for item in items)
        return out


@dataclass(frozen=True)
class Emulator:
    """How the copies reach the emulated AWS."""

    endpoint: str  # http://127.0.0.1:<port>
    endpoint_names: tuple[str, ...]  # the provider's `endpoints` arguments to point at it


@dataclass(frozen=True)
class Versions:
    """What this machine runs, and what the copies must therefore say."""

    terraform: str
    relax_required_version: bool
    provider_pin: str | None  # None: keep the stacks' provider constraint
    accepts: Callable[[str, str], bool]  # (type, dotted argument) -> the provider has it


def _resources(doc: Doc, kind: str = "resource") -> Iterable[tuple[str, str, dict[str, Any]]]:
    for rtype, blocks in doc.get(kind, {}).items():
        for name, body in blocks.items():
            yield rtype, name, body


def relax_versions(doc: Doc, versions: Versions, notes: CopyNotes) -> None:
    terraform = doc.setdefault("terraform", {})
    wanted = terraform.get("required_version")
    if wanted and versions.relax_required_version:
        terraform["required_version"] = versions.terraform
        notes.relaxed.append(
            f"required_version {wanted!r} -> {versions.terraform!r} (the Terraform that runs)"
        )
    aws = terraform.get("required_providers", {}).get("aws")
    if aws is not None and versions.provider_pin:
        notes.relaxed.append(
            f"hashicorp/aws {aws.get('version')!r} -> {versions.provider_pin!r} "
            "(the provider that can be had)"
        )
        aws["version"] = versions.provider_pin


def _strip_path(body: Any, path: list[str]) -> bool:
    if isinstance(body, list):
        return any([_strip_path(item, path) for item in body])
    if not isinstance(body, dict) or path[0] not in body:
        return False
    if len(path) == 1:
        del body[path[0]]
        return True
    return _strip_path(body[path[0]], path[1:])


def strip_newer_arguments(
    doc: Doc,
    versions: Versions,
    notes: CopyNotes,
    rules: Iterable[NewerArgument] = NEWER_PROVIDER_ARGUMENTS,
) -> None:
    for rule in rules:
        for kind in ("resource", "data"):
            for rtype, name, body in _resources(doc, kind):
                if rule.resource_type not in ("*", rtype) or versions.accepts(rtype, rule.argument):
                    continue
                if _strip_path(body, rule.argument.split(".")):
                    prefix = "data." if kind == "data" else ""
                    notes.stripped.append(
                        f"{prefix}{rtype}.{name}: {rule.argument} ({rule.reason})"
                    )


def _references(body: Any, address: str) -> bool:
    """Whether an expression in `body` (outside depends_on) names `address` (`type.name`)."""
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "depends_on"}
    text = json.dumps(body)
    pattern = r"(?<![\w.-])" + re.escape(address) + r"(?![\w-])"
    return any(re.search(pattern, expr) for expr in re.findall(r"\$\{(.*?)\}", text))


def leave_out(
    doc: Doc, notes: CopyNotes, cannot_create: dict[str, str] = EMULATOR_CANNOT_CREATE
) -> None:
    """Remove the types the emulator cannot create, then whatever refers to what was removed."""
    removed: list[str] = []
    for rtype in [t for t in doc.get("resource", {}) if t in cannot_create]:
        names = sorted(doc["resource"].pop(rtype))
        removed += [f"{rtype}.{n}" for n in names]
        notes.left_out.append(f"{rtype} x{len(names)} ({cannot_create[rtype]})")
    pending = list(removed)
    while pending:
        address = pending.pop()
        for kind in ("resource", "data"):
            for rtype, name, body in list(_resources(doc, kind)):
                own = f"{rtype}.{name}" if kind == "resource" else f"data.{rtype}.{name}"
                if _references(body, address):
                    del doc[kind][rtype][name]
                    if not doc[kind][rtype]:
                        del doc[kind][rtype]
                    removed.append(own)
                    pending.append(own)
                    notes.left_out.append(f"{own} (refers to {address})")
        for name, body in list(doc.get("output", {}).items()):
            if _references(body, address):
                del doc["output"][name]
                notes.left_out.append(f"output.{name} (refers to {address})")
    gone = set(removed)
    for kind in ("resource", "data"):
        for _rtype, _name, body in _resources(doc, kind):
            if "depends_on" in body:
                body["depends_on"] = [d for d in body["depends_on"] if d not in gone]
                if not body["depends_on"]:
                    del body["depends_on"]
    for kind in ("resource", "data", "output"):
        if kind in doc and not doc[kind]:
            del doc[kind]


def ignore_read_back(
    doc: Doc,
    notes: CopyNotes,
    reads_back_wrong: dict[tuple[str, str], str] = EMULATOR_READS_BACK_WRONG,
) -> None:
    for (rtype, attribute), reason in reads_back_wrong.items():
        for name, body in doc.get("resource", {}).get(rtype, {}).items():
            if attribute not in body:
                continue  # not set: nothing to read back
            lifecycle = body.setdefault("lifecycle", {})
            ignored = lifecycle.setdefault("ignore_changes", [])
            if ignored != "all" and attribute not in ignored:
                ignored.append(attribute)
            notes.ignored.append(f"{rtype}.{name}: {attribute} ({reason})")


# Deletion protection the emulator enforces, by resource type: it would refuse the run's own
# clean-up (the destroy) of the throwaway emulated account.
DELETION_PROTECTION: dict[str, str] = {
    "aws_db_instance": "deletion_protection",
    "aws_rds_cluster": "deletion_protection",
    "aws_lb": "enable_deletion_protection",
}


def allow_destroy(doc: Doc, notes: CopyNotes) -> None:
    """`prevent_destroy` and deletion protection would stop the run's own clean-up of the
    throwaway emulated account. (Both stay in the full copy, which validates and plans them.)"""
    for rtype, name, body in _resources(doc):
        if body.get("lifecycle", {}).get("prevent_destroy"):
            body["lifecycle"]["prevent_destroy"] = False
            notes.emulator.append(
                f"{rtype}.{name}: prevent_destroy lifted so the emulated run can clean up"
            )
        argument = DELETION_PROTECTION.get(rtype)
        if argument and body.get(argument) is True:
            body[argument] = False
            notes.emulator.append(
                f"{rtype}.{name}: {argument} off so the emulated run can clean up"
            )


def force_destroy_buckets(doc: Doc, notes: CopyNotes) -> None:
    """The run writes into its buckets (state and lock files, and the access logs moto delivers
    even while the destroy runs): a bucket without `force_destroy` would refuse the clean-up.
    The runner empties the buckets first; this catches what arrives during the destroy."""
    for name, body in doc.get("resource", {}).get("aws_s3_bucket", {}).items():
        if not body.get("force_destroy"):
            body["force_destroy"] = True
            notes.emulator.append(
                f"aws_s3_bucket.{name}: force_destroy so the run can delete what it wrote"
            )


def drop_unevaluable_statements(
    doc: Doc,
    notes: CopyNotes,
    lacking: dict[str, str] = EMULATOR_LACKS_CONDITION_KEYS,
) -> None:
    for name, body in doc.get("resource", {}).get("aws_s3_bucket_policy", {}).items():
        try:
            policy = json.loads(body.get("policy", ""))
        except (TypeError, ValueError):
            continue  # an expression, not a literal document: left as it is
        statements = policy.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        kept = []
        for statement in statements:
            keys = {k for test in statement.get("Condition", {}).values() for k in test}
            hit = sorted(keys & lacking.keys())
            if hit:
                sid = statement.get("Sid", "(no Sid)")
                reasons = "; ".join(lacking[k] for k in hit)
                notes.emulator.append(
                    f"aws_s3_bucket_policy.{name}: statement {sid} dropped ({reasons})"
                )
            else:
                kept.append(statement)
        if len(kept) != len(statements):
            policy["Statement"] = kept
            body["policy"] = json.dumps(policy, separators=(",", ":"))


def point_at_emulator(doc: Doc, emulator: Emulator) -> None:
    """Every provider block talks to the emulator only, with fake keys."""
    providers = doc.get("provider", {}).get("aws", [])
    if isinstance(providers, dict):
        providers = [providers]
    for provider in providers:
        provider.update(
            access_key="emulated",
            secret_key="emulated",  # noqa: S106 - a fake key for the emulator
            skip_credentials_validation=True,
            skip_metadata_api_check=True,
            s3_use_path_style=True,
            endpoints=[{name: emulator.endpoint for name in emulator.endpoint_names}],
            # S3 Control puts the account id in front of the endpoint's host
            # (`<account>.127.0.0.1`), a name no resolver answers: such requests go through the
            # emulator as an HTTP proxy, which never resolves it. Loopback hosts are never
            # proxied, so every other request still goes straight to the endpoint.
            http_proxy=emulator.endpoint,
        )
        # Kept on purpose: skip_requesting_account_id stays off, so allowed_account_ids is
        # checked against the account the emulator answers for.


def full_copy(doc: Doc, versions: Versions, emulator: Emulator) -> tuple[Doc, CopyNotes]:
    """The copy that is validated and planned: every resource, no backend (local plan state)."""
    out, notes = copy.deepcopy(doc), CopyNotes()
    relax_versions(out, versions, notes)
    strip_newer_arguments(out, versions, notes)
    out.get("terraform", {}).pop("backend", None)
    point_at_emulator(out, emulator)
    return out, notes


def applied_copy(doc: Doc, versions: Versions, emulator: Emulator) -> tuple[Doc, CopyNotes]:
    """The copy that is applied, re-planned and destroyed; its backend block is the stack's own."""
    out, notes = copy.deepcopy(doc), CopyNotes()
    relax_versions(out, versions, notes)
    strip_newer_arguments(out, versions, notes)
    leave_out(out, notes)
    ignore_read_back(out, notes)
    allow_destroy(out, notes)
    force_destroy_buckets(out, notes)
    drop_unevaluable_statements(out, notes)
    point_at_emulator(out, emulator)
    return out, notes
