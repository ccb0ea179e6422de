"""Names of one environment's resources, state key and state key alias, from one place.

Names AWS wants unique per account and region carry the environment (`checkins-dev-...`), so
environments can share an account.
"""

from __future__ import annotations

from dataclasses import dataclass

from modules.aws_target import AwsTarget


@dataclass(frozen=True)
class StateNames:
    """Where every stack of the project keeps its Terraform state."""

    project: str
    bucket: str
    target: AwsTarget
    """Account and region of the state bucket and its key."""

    @property
    def key_alias(self) -> str:
        """Alias (without `alias/`) of the key that encrypts the state."""
        return f"{self.project}-tfstate"

    @property
    def key_alias_arn(self) -> str:
        """The backend needs a literal key id; the alias ARN is known before the key exists."""
        return self.target.arn("kms", f"alias/{self.key_alias}")

    def state_key(self, environment: str) -> str:
        return f"{self.project}/{environment}/terraform.tfstate"


@dataclass(frozen=True)
class Names:
    """One environment's names."""

    project: str
    environment: str

    @property
    def prefix(self) -> str:
        """Prefix of every resource name, e.g. `checkins-prod`."""
        return f"{self.project}-{self.environment}"

    def unique(self, purpose: str) -> str:
        """A name unique across environments sharing an account, e.g. `checkins-prod-logs`."""
        return f"{self.prefix}-{purpose}"

    @property
    def keyspace(self) -> str:
        """Default keyspace name: Keyspaces names allow no hyphen."""
        return f"{self.project}_{self.environment}".replace("-", "_")

    def log_group(self, kind: str, purpose: str) -> str:
        """`/<kind>/<prefix>/<purpose>`, e.g. `/vpc/checkins-prod/flow-logs`."""
        return f"/{kind}/{self.prefix}/{purpose}"

    @property
    def log_group_patterns(self) -> tuple[str, ...]:
        """Every log group name of this environment: the ones `log_group` builds, and Lambda's
        own `/aws/lambda/<function>` for functions named with `unique`."""
        return (f"/*/{self.prefix}/*", f"/aws/lambda/{self.prefix}-*")
