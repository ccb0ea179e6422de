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

    @property
    def via_service(self) -> str:
        """The S3 endpoint of the bucket's region: the only way the state key may be used."""
        return f"s3.{self.target.region}.amazonaws.com"

    def state_prefix(self, stack: str) -> str:
        """Every object of one stack's state lives under `<project>/<stack>/`."""
        return f"{self.project}/{stack}/"

    def state_key(self, stack: str) -> str:
        """`<project>/<stack>/terraform.tfstate`; the bootstrap stack's own is `state-bootstrap`."""
        return f"{self.state_prefix(stack)}terraform.tfstate"

    def lock_key(self, stack: str) -> str:
        """The lock object S3 native locking (`use_lockfile`) writes next to the state."""
        return f"{self.state_key(stack)}.tflock"


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

    def bucket(self, purpose: str, account_id: str) -> str:
        """S3 bucket names are global across every account: `<prefix>-<purpose>-<account>`."""
        return f"{self.unique(purpose)}-{account_id}"

    @property
    def auth_task_role(self) -> str:
        """The auth service's ECS task role (created with the service; named here so the
        signing-key secret's policy can name it first)."""
        return self.unique("auth-task")

    @property
    def key_rotation_function(self) -> str:
        """The signing-key rotation Lambda function and its role."""
        return self.unique("jwt-key-rotation")

    @property
    def signing_key_secret(self) -> str:
        """The auth service's JWT signing-key set in Secrets Manager."""
        return f"{self.prefix}/auth/jwt-signing-keys"

    @property
    def database(self) -> str:
        """The auth service's RDS instance (or cluster), its groups and its log groups."""
        return self.unique("auth")

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
        own `/aws/lambda/<function>` for functions named with `unique`, RDS's
        `/aws/rds/<instance|cluster>/<identifier>/<log>` for databases named with `unique`, and
        WAF's `aws-waf-logs-<web ACL>` for web ACLs named with `unique`."""
        return (
            f"/*/{self.prefix}/*",
            f"/aws/lambda/{self.prefix}-*",
            f"/aws/rds/*/{self.prefix}-*",
            f"aws-waf-logs-{self.prefix}-*",
        )

    @property
    def load_balancer(self) -> str:
        """The ALB (`<prefix>`; ALB names are at most 32 characters) and its target groups."""
        return self.prefix

    @property
    def web_acl(self) -> str:
        """The WAF web ACL in front of the load balancer."""
        return self.unique("api")
