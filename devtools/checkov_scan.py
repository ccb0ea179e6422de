"""Policy scan of synthesized stacks with checkov, and the reviewed list of accepted findings.

checkov has no inline suppressions for Terraform JSON, so every accepted finding is listed in
`ACCEPTED` with its reason. A finding not listed there fails the scan; so does a scan that parsed
nothing or passed no check (checkov 3.3 cannot parse a `cdk.tf.json` with
`terraform.required_version` and would otherwise report a vacuous pass: the key is dropped from
the scanned copy).

    python -m devtools.checkov_scan [cdktf.out]     # `make scan`
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CHECKOV = Path(os.environ.get("CHECKOV_BIN", REPO_ROOT / ".tools" / "checkov" / "bin" / "checkov"))


@dataclass(frozen=True)
class Accepted:
    """A finding accepted on purpose: which check, where, and why."""

    check_id: str
    reason: str
    resource_contains: str = ""  # "" = any resource
    stacks: tuple[str, ...] = ()  # () = any stack

    def covers(self, stack: str, check_id: str, resource: str) -> bool:
        return (
            check_id == self.check_id
            and (not self.stacks or stack in self.stacks)
            and self.resource_contains in resource
        )


ACCEPTED: tuple[Accepted, ...] = (
    Accepted(
        "CKV2_AWS_62",
        "S3 event notifications: nothing consumes object events of the state or log buckets; "
        "who touched state is recorded by CloudTrail, not by notifications.",
        stacks=("state-bootstrap",),
    ),
    Accepted(
        "CKV_AWS_144",
        "Cross-region replication: the platform is single-region; state is versioned and "
        "KMS-encrypted, and a second region's bucket and key belong to a disaster-recovery design.",
        stacks=("state-bootstrap",),
    ),
    Accepted(
        "CKV_AWS_18",
        "Access logging of the access-log bucket itself would log its own log deliveries forever.",
        resource_contains="access-log-bucket",
        stacks=("state-bootstrap",),
    ),
    Accepted(
        "CKV_AWS_145",
        "S3 server access logs can only be delivered to a bucket encrypted with SSE-S3, not KMS.",
        resource_contains="access-log-bucket",
        stacks=("state-bootstrap",),
    ),
    Accepted(
        "CKV2_AWS_62",
        "S3 event notifications: nothing consumes the archive's or the access-log bucket's "
        "object events; the cleanup job's own logs and metrics report every object it writes.",
        stacks=("dev", "prod"),
    ),
    Accepted(
        "CKV_AWS_144",
        "Cross-region replication of the archive and its access logs: the platform is "
        "single-region; a replica bucket and key belong to a disaster-recovery design.",
        stacks=("dev", "prod"),
    ),
    Accepted(
        "CKV_AWS_145",
        "S3 server access logs can only be delivered to a bucket encrypted with SSE-S3, not KMS.",
        resource_contains="access-log-bucket",
        stacks=("dev", "prod"),
    ),
    Accepted(
        "CKV_AWS_116",
        "Dead-letter queue of the key-rotation function: Secrets Manager invokes rotation steps "
        "synchronously (a DLQ only receives failed asynchronous events) and retries a failed "
        "rotation itself, keeping AWSCURRENT.",
        resource_contains="key-rotation_function",
        stacks=("dev", "prod"),
    ),
    Accepted(
        "CKV_AWS_272",
        "Lambda code signing needs a signing profile, an S3 artifact bucket and a signing job "
        "(the delivery pipeline); until then the package is a deterministic zip built from the "
        "repository and hash-checked locks, deployed with its SHA-256 (source_code_hash).",
        resource_contains="key-rotation_function",
        stacks=("dev", "prod"),
    ),
    Accepted(
        "CKV_AWS_157",
        "dev's auth database is single-AZ to save cost (a failure costs a restore, not data: "
        "backups and PITR stay on); prod is Multi-AZ and is scanned without this exception.",
        resource_contains="database_instance",
        stacks=("dev",),
    ),
    Accepted(
        "CKV_AWS_293",
        "dev's auth database can be destroyed with the environment (skip_final_snapshot, no "
        "deletion protection); prod has both and prevent_destroy, and is scanned without this "
        "exception.",
        resource_contains="database_instance",
        stacks=("dev",),
    ),
    Accepted(
        "CKV2_AWS_5",
        "The database's client security groups (auth service, migration task) are created with "
        "the database, so its ingress rules can name them; the ECS services that attach them "
        "are not in the stacks yet. Until then they admit nothing and reach only port 5432.",
        resource_contains="database_client-",
        stacks=("dev", "prod"),
    ),
    Accepted(
        "CKV_AWS_150",
        "dev's load balancer can be destroyed with the environment; prod has deletion "
        "protection and is scanned without this exception.",
        resource_contains="load-balancer_alb",
        stacks=("dev",),
    ),
    Accepted(
        "CKV_AWS_260",
        "Port 80 is open to the internet only for its listener's permanent redirect to HTTPS "
        "(clients typing the bare name); no request is forwarded over HTTP.",
        resource_contains="load-balancer_ingress-80",
        stacks=("dev", "prod"),
    ),
    Accepted(
        "CKV_AWS_145",
        "ELB delivers access logs only to buckets encrypted with SSE-S3; with SSE-KMS they are "
        "dropped.",
        resource_contains="load-balancer_log-bucket",
        stacks=("dev", "prod"),
    ),
    Accepted(
        "CKV_AWS_18",
        "Server access logging of the load balancer's log bucket: its writer is ELB's log "
        "delivery alone and its readers are few, and CloudTrail records their calls.",
        resource_contains="load-balancer_log-bucket",
        stacks=("dev", "prod"),
    ),
    Accepted(
        "CKV2_AWS_76",
        "The check wants AWSManagedRulesAnonymousIpList beside KnownBadInputs (whose Log4JRCE "
        "rules the web ACL runs). The anonymous-IP list blocks VPNs, Tor and hosting providers: "
        "the mobile app's users behind VPNs and privacy relays are legitimate clients.",
        resource_contains="load-balancer_alb",
        stacks=("dev", "prod"),
    ),
    Accepted(
        "CKV_AWS_378",
        "TLS ends at the load balancer; it reaches the tasks over HTTP inside the VPC, on the "
        "service port only, from the load balancer's security group only. HTTPS to the targets "
        "needs a certificate in every task (ELB does not verify it): a later step.",
        resource_contains="load-balancer_target-",
        stacks=("dev", "prod"),
    ),
    Accepted(
        "CKV_AWS_338",
        "dev keeps logs for its configured 30 days to save cost; prod keeps them 365 days and is "
        "scanned without this exception.",
        stacks=("dev",),
    ),
)


@dataclass
class ScanResult:
    stack: str
    version: str
    passed: int
    parsing_errors: int
    failed: list[str] = field(default_factory=list)  # "CHECK_ID resource: name"
    accepted: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and self.parsing_errors == 0 and self.passed > 0

    def summary(self) -> str:
        return (
            f"checkov {self.version} {self.stack}: {self.passed} passed, "
            f"{len(self.failed)} failed, {len(self.accepted)} accepted, "
            f"{self.parsing_errors} parsing errors"
        )


def scan_stack(stack: str, cdk_tf_json: Path) -> ScanResult:
    if not CHECKOV.exists():
        raise FileNotFoundError(
            f"checkov not found at {CHECKOV} (scripts/test-deps.sh installs it)"
        )
    document = json.loads(cdk_tf_json.read_text())
    document.get("terraform", {}).pop("required_version", None)
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "cdk.tf.json").write_text(json.dumps(document))
        run = subprocess.run(
            [str(CHECKOV), "-d", scratch, "--framework", "terraform_json", "-o", "json",
             "--quiet", "--skip-download", "--compact"],
            capture_output=True, text=True, timeout=600,
            env={**os.environ, "BC_SKIP_MAPPING": "TRUE",
                 "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
        )  # fmt: skip
    if run.returncode not in (0, 1):
        raise RuntimeError(f"checkov failed ({run.returncode}): {run.stderr[-2000:]}")
    report = json.loads(run.stdout)
    report = report[0] if isinstance(report, list) else report
    summary = report["summary"]
    result = ScanResult(
        stack=stack,
        version=summary.get("checkov_version", "?"),
        passed=summary["passed"],
        parsing_errors=summary["parsing_errors"],
    )
    for finding in report["results"]["failed_checks"]:
        line = f"{finding['check_id']} {finding['resource']}: {finding['check_name']}"
        if any(a.covers(stack, finding["check_id"], finding["resource"]) for a in ACCEPTED):
            result.accepted.append(line)
        else:
            result.failed.append(line)
    return result


def main(argv: list[str]) -> int:
    outdir = Path(argv[0] if argv else "cdktf.out")
    stacks = sorted(p.parent for p in (outdir / "stacks").glob("*/cdk.tf.json"))
    if not stacks:
        print(f"no synthesized stacks under {outdir}/stacks (run `make synth` first)")
        return 2
    ok = True
    for stack_dir in stacks:
        result = scan_stack(stack_dir.name, stack_dir / "cdk.tf.json")
        print(result.summary())
        for line in result.failed:
            print(f"  FAILED {line}")
        ok &= result.ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
