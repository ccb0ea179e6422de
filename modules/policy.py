"""IAM policy documents as deterministic JSON, readable in the synthesized stacks."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Statement:
    """One IAM policy statement. `resources` must name ARNs; `*` only where AWS allows nothing
    narrower (for example KMS key policies, where `*` means "this key")."""

    sid: str
    actions: Sequence[str]
    resources: Sequence[str] = ()
    principals: Mapping[str, Any] | None = None
    conditions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    effect: str = "Allow"

    def render(self) -> dict[str, Any]:
        body: dict[str, Any] = {"Sid": self.sid, "Effect": self.effect}
        if self.principals is not None:
            body["Principal"] = dict(self.principals)
        body["Action"] = list(self.actions) if len(self.actions) > 1 else self.actions[0]
        if self.resources:
            body["Resource"] = (
                list(self.resources) if len(self.resources) > 1 else self.resources[0]
            )
        if self.conditions:
            body["Condition"] = {k: dict(v) for k, v in self.conditions.items()}
        return body


def policy_document(*statements: Statement) -> str:
    """Render a policy; key order is fixed so the same inputs give byte-identical JSON."""
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [s.render() for s in statements]},
        separators=(",", ":"),
    )


def service_assume_role_policy(service: str, account_id: str, source_arn: str | None = None) -> str:
    """Trust policy for an AWS service principal, pinned to this account (confused deputy)."""
    conditions: dict[str, dict[str, Any]] = {"StringEquals": {"aws:SourceAccount": account_id}}
    if source_arn:
        conditions["ArnLike"] = {"aws:SourceArn": source_arn}
    return policy_document(
        Statement(
            sid="AssumeFromService",
            actions=["sts:AssumeRole"],
            principals={"Service": service},
            conditions=conditions,
        )
    )
