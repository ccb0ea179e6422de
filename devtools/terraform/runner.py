"""The steps every synthesized stack goes through, and the report of what happened.

Per stack, in order (stacks without an S3 backend first: they create the state bucket):

1. `init`     `terraform init -backend=false` of the full copy
2. `validate` `terraform validate` of the full copy (every resource)
3. `plan`     `terraform plan` of the full copy against the emulator
4. `apply`    `terraform init` of the applied copy with the stack's own backend (an S3 backend is
              pointed at the emulated state bucket by `-backend-config` only), then `apply`
5. `re-plan`  `terraform plan -detailed-exitcode` must exit 0: no perpetual diff
6. `state`    S3-backed stacks: the state object is at `<project>/<env>/terraform.tfstate`,
              `aws:kms`-encrypted with the state key, and the lock file was written and removed
7. `state-secrets`  `terraform state pull` of what the apply wrote holds no private key,
              access key or literal password (devtools/secret_scan.py)
8. `destroy`  after every stack was applied, in reverse order

Every applied stack stays applied until the end, so stacks that share an account also share
the emulated account: a name that collides between them fails the second apply.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.terraform import copies, moto_server
from devtools.terraform.moto import MotoServer
from devtools.terraform.toolchain import (
    PROVIDER_SOURCE,
    ToolchainUnavailable,
    choose_provider,
    cli_config,
    find_mirror,
    find_terraform,
    satisfies,
)

STEPS = ("init", "validate", "plan", "apply", "re-plan", "state", "state-secrets", "destroy")
TIMEOUT = 900  # seconds per Terraform command; an emulated apply takes about a minute


@dataclass
class Step:
    name: str
    ok: bool | None = None  # None: not run
    seconds: float = 0.0
    detail: str = ""

    @property
    def status(self) -> str:
        return {True: "passed", False: "FAILED", None: "not run"}[self.ok]


@dataclass
class StackRun:
    name: str
    doc: dict[str, Any]
    account: str
    steps: dict[str, Step] = field(default_factory=dict)
    resources_planned: int = 0
    resources_applied: int = 0
    full_notes: copies.CopyNotes = field(default_factory=copies.CopyNotes)
    applied_notes: copies.CopyNotes = field(default_factory=copies.CopyNotes)

    def __post_init__(self) -> None:
        for name in STEPS:
            self.steps.setdefault(name, Step(name))
        if not self.s3_backend:
            self.steps["state"].detail = "local backend: no remote state to check"

    @property
    def backend(self) -> dict[str, Any]:
        return self.doc.get("terraform", {}).get("backend", {})

    @property
    def s3_backend(self) -> dict[str, Any] | None:
        return self.backend.get("s3")

    @property
    def tags(self) -> dict[str, str]:
        providers = self.doc.get("provider", {}).get("aws", [{}])
        default_tags = (providers[0] if providers else {}).get("default_tags", [{}])
        return (default_tags[0] if default_tags else {}).get("tags", {})

    @property
    def ran(self) -> list[Step]:
        return [s for s in self.steps.values() if s.ok is not None]

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.ran) and self.steps["destroy"].ok is True

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps.values())

    def summary(self) -> str:
        passed = sum(1 for s in self.ran if s.ok)
        failed = [s.name for s in self.ran if not s.ok]
        tail = f", FAILED: {', '.join(failed)}" if failed else ""
        return (
            f"{self.name}: {self.resources_applied} resources applied "
            f"(of {self.resources_planned} planned), {passed}/{len(self.ran)} steps passed"
            f"{tail}, {self.seconds:.0f} s"
        )


@dataclass
class Report:
    terraform: str = ""
    provider: str = ""
    relaxed: list[str] = field(default_factory=list)
    stacks: list[StackRun] = field(default_factory=list)
    setup_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.stacks) and all(s.ok for s in self.stacks)

    def header(self) -> str:
        return f"terraform: Terraform {self.terraform}, {self.provider}"

    def lines(self) -> list[str]:
        out = [self.header(), *(f"  {r}" for r in self.relaxed)]
        out.extend(f"  emulator fix: {fix}" for fix in moto_server.FIXES)
        out.append(f"  set-up (provider probe, emulator): {self.setup_seconds:.0f} s")
        for run in self.stacks:
            out.append(run.summary())
            notes = [*run.full_notes.stripped, *run.applied_notes.lines()]
            notes = [n for n in notes if not n.startswith("relaxed:")]  # said once, above
            out.extend(f"  {line}" for line in dict.fromkeys(notes))
            for step in run.steps.values():
                if step.ok is False or (step.ok and step.detail):
                    out.extend(f"  {step.name}: {line}" for line in step.detail.splitlines())
        return out


def _error_text(output: str, limit: int = 4000) -> str:
    """The `Error:` blocks of a Terraform run, else its tail."""
    at = output.find("Error: ")
    text = output[at:] if at >= 0 else output[-limit:]
    return text.strip()[:limit]


def _plan_changes(output: str) -> str:
    lines = [
        line
        for line in output.splitlines()
        if re.match(r"^\s+# \S+ (will|must) be", line) or re.match(r"^\s+[~+-] \w", line)
    ]
    return "\n".join(lines[:60])


class Verification:
    """One run: toolchain probe, emulator, then every stack of `outdir` through the steps."""

    def __init__(
        self, outdir: Path, workdir: Path, echo: Callable[[str], None] = lambda _line: None
    ) -> None:
        self.outdir = Path(outdir)
        self.workdir = Path(workdir)
        self.echo = echo
        self.report = Report()
        self.servers: dict[str, MotoServer] = {}
        self.env: dict[str, str] = {}
        self.terraform = ""
        self.endpoint_names: tuple[str, ...] = ()
        self._schema: dict[str, Any] = {}
        self._lock_file = self.workdir / "probe" / ".terraform.lock.hcl"
        self._init_lock = threading.Lock()

    # -- Terraform subprocesses ----------------------------------------------------------------

    def tf(self, cwd: Path, *args: str, log: str) -> subprocess.CompletedProcess[str]:
        if args[0] == "init":
            # Terraform's plugin cache is not safe for concurrent installs; with the probe's lock
            # file every init links the cached provider instead of installing it again.
            if self._lock_file.exists():
                shutil.copyfile(self._lock_file, cwd / ".terraform.lock.hcl")
            with self._init_lock:
                return self._tf(cwd, *args, log=log)
        return self._tf(cwd, *args, log=log)

    def _tf(self, cwd: Path, *args: str, log: str) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        try:
            result = subprocess.run(
                [self.terraform, *args],
                cwd=cwd,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
            )
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else exc.stdout
            result = subprocess.CompletedProcess(exc.cmd, 124, out or "", f"timed out: {exc}")
        (cwd / f"{log}.log").write_text(
            f"$ terraform {' '.join(args)}  # {time.monotonic() - started:.1f} s, "
            f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
        return result

    # -- set-up --------------------------------------------------------------------------------

    def _environment(self, cli_config_file: Path) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            # Nothing of the user's AWS or Terraform set-up may reach these subprocesses.
            if not k.startswith(("AWS_", "TF_"))
        }
        env.update(
            TF_CLI_CONFIG_FILE=str(cli_config_file),
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            CHECKPOINT_DISABLE="1",
            AWS_ACCESS_KEY_ID="emulated",
            AWS_SECRET_ACCESS_KEY="emulated",  # noqa: S106 - a fake key for the emulator
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_EC2_METADATA_DISABLED="true",
        )
        return env

    def load_stacks(self) -> list[StackRun]:
        manifest = self.outdir / "manifest.json"
        if manifest.exists():
            names = list(json.loads(manifest.read_text())["stacks"])
        else:
            names = sorted(p.parent.name for p in self.outdir.glob("stacks/*/cdk.tf.json"))
        runs = []
        for name in names:
            doc = json.loads((self.outdir / "stacks" / name / "cdk.tf.json").read_text())
            providers = doc.get("provider", {}).get("aws", [{}])
            accounts = (providers[0] if providers else {}).get("allowed_account_ids", [])
            # moto answers for any account; the default one is used where the stack names none.
            runs.append(StackRun(name, doc, accounts[0] if accounts else "123456789012"))
        if not runs:
            raise FileNotFoundError(f"no synthesized stacks under {self.outdir}/stacks")
        # Stacks with a local backend create the state bucket the others keep their state in.
        return sorted(runs, key=lambda r: r.s3_backend is not None)

    def setup(self, runs: list[StackRun]) -> None:
        started = time.monotonic()
        terraform = find_terraform()
        self.terraform = terraform.binary
        self.report.terraform = terraform.version
        mirror = find_mirror(terraform.platform)
        tf_block = runs[0].doc.get("terraform", {})
        constraint = tf_block.get("required_providers", {}).get("aws", {}).get("version", "")
        choice = choose_provider(constraint, mirror)
        (self.workdir / "plugin-cache").mkdir(parents=True, exist_ok=True)
        config = self.workdir / "terraform.tfrc"
        config.write_text(cli_config(mirror, self.workdir / "plugin-cache"))
        self.env = self._environment(config)

        probe = self.workdir / "probe"
        probe.mkdir(exist_ok=True)
        required = {"source": "hashicorp/aws", "version": choice.pin or constraint}
        (probe / "main.tf.json").write_text(
            json.dumps({"terraform": {"required_providers": {"aws": required}}})
        )
        init = self.tf(probe, "init", "-input=false", "-no-color", log="init")
        if init.returncode != 0:
            raise ToolchainUnavailable(
                f"no hashicorp/aws provider for {required['version']!r}: "
                f"{_error_text(init.stdout + init.stderr, 800)}"
            )
        selections = json.loads(
            self.tf(probe, "version", "-json", log="version").stdout or "{}"
        ).get("provider_selections", {})
        installed = next(
            (v for k, v in selections.items() if k.endswith("/" + PROVIDER_SOURCE)), "?"
        )
        schema = self.tf(probe, "providers", "schema", "-json", log="schema")
        self._schema = next(
            v
            for k, v in json.loads(schema.stdout)["provider_schemas"].items()
            if k.endswith("/" + PROVIDER_SOURCE)
        )
        self.report.provider = choice.note.replace(
            f"hashicorp/aws {constraint}", f"hashicorp/aws {installed}"
        )

        wanted_tf = tf_block.get("required_version", "")
        self.relax_tf = bool(wanted_tf) and not satisfies(terraform.version, wanted_tf)
        if self.relax_tf:
            self.report.relaxed.append(
                f"Terraform {terraform.version} is older than the stacks' required_version "
                f"{wanted_tf!r}: the copies require {terraform.version}"
            )
        self.provider_pin = choice.pin

        for account in dict.fromkeys(r.account for r in runs):
            self.servers[account] = MotoServer(account, self.workdir).start()
        self.endpoint_names = self._endpoint_names(probe, runs[0])
        self.report.setup_seconds = time.monotonic() - started

    def _endpoint_names(self, probe: Path, run: StackRun) -> tuple[str, ...]:
        """Every service endpoint the provider has, one name per service (no aliases).
        The same probe shows that the provider reaches the emulator as the stack's account."""
        block = self._schema["provider"]["block"]["block_types"]["endpoints"]["block"]
        names = list(block["attributes"])
        server = self.servers[run.account]
        region = (run.doc.get("provider", {}).get("aws") or [{}])[0].get("region", "us-east-1")
        provider = {"region": region, "allowed_account_ids": [run.account]}
        doc = {
            "terraform": {"required_providers": {"aws": {"source": "hashicorp/aws"}}},
            "provider": {"aws": [provider]},
            "data": {"aws_caller_identity": {"probe": {}}},
        }
        copies.point_at_emulator(doc, copies.Emulator(server.endpoint, tuple(names)))
        (probe / "main.tf.json").write_text(json.dumps(doc))
        plan = self.tf(probe, "plan", "-json", "-input=false", "-no-color", log="plan")
        if plan.returncode != 0:
            raise RuntimeError(f"the provider cannot reach the emulator: {plan.stdout[-2000:]}")
        aliases: set[str] = set()
        for line in plan.stdout.splitlines():
            detail = json.loads(line).get("diagnostic", {}).get("detail", "")
            if detail.startswith("Only one of the following attributes should be set"):
                # The provider names the service first, then its aliases.
                aliases.update(re.findall(r"endpoints\[0\]\.(\w+)", detail)[1:])
        return tuple(n for n in names if n not in aliases)

    def accepts(self, rtype: str, argument: str) -> bool:
        for kind in ("resource_schemas", "data_source_schemas"):
            block = self._schema.get(kind, {}).get(rtype, {}).get("block")
            if block is None:
                continue
            *parents, last = argument.split(".")
            for name in parents:
                block = block.get("block_types", {}).get(name, {}).get("block")
                if block is None:
                    return False
            attribute = block.get("attributes", {}).get(last)
            if attribute is not None:
                return bool(attribute.get("optional") or attribute.get("required"))
            return last in block.get("block_types", {})
        return False

    # -- the steps -----------------------------------------------------------------------------

    def _versions(self) -> copies.Versions:
        return copies.Versions(
            self.report.terraform, self.relax_tf, self.provider_pin, self.accepts
        )

    def _emulator(self, run: StackRun) -> copies.Emulator:
        return copies.Emulator(self.servers[run.account].endpoint, self.endpoint_names)

    def _timed(self, run: StackRun, name: str, action: Callable[[Step], bool]) -> bool:
        step = run.steps[name]
        started = time.monotonic()
        try:
            step.ok = action(step)
        except Exception as exc:
            step.ok, step.detail = False, f"{type(exc).__name__}: {exc}"
        step.seconds = time.monotonic() - started
        self.echo(f"{run.name}: {name} {step.status} ({step.seconds:.0f} s)")
        return bool(step.ok)

    def _command_step(self, step: Step, cwd: Path, *args: str) -> bool:
        interactive = args[0] in ("init", "plan", "apply", "destroy")
        flags = ["-input=false", "-no-color"] if interactive else ["-no-color"]
        result = self.tf(cwd, *args, *flags, log=step.name)
        if result.returncode != 0:
            step.detail = _error_text(result.stdout + result.stderr)
        return result.returncode == 0

    def _link_assets(self, run: StackRun, folder: Path) -> None:
        """Files the stack names by relative path (`assets/...`: Lambda packages) next to the
        copy, as they are next to the stack's own `cdk.tf.json`."""
        assets = self.outdir / "stacks" / run.name / "assets"
        link = folder / "assets"
        if assets.is_dir() and not link.exists():
            link.symlink_to(assets.resolve(), target_is_directory=True)

    def check_full(self, run: StackRun) -> None:
        folder = self.workdir / run.name / "full"
        folder.mkdir(parents=True, exist_ok=True)
        doc, run.full_notes = copies.full_copy(run.doc, self._versions(), self._emulator(run))
        (folder / "cdk.tf.json").write_text(json.dumps(doc, indent=2))
        self._link_assets(run, folder)

        if not self._timed(
            run, "init", lambda s: self._command_step(s, folder, "init", "-backend=false")
        ):
            return
        if not self._timed(run, "validate", lambda s: self._command_step(s, folder, "validate")):
            return

        def plan(step: Step) -> bool:
            ok = self._command_step(step, folder, "plan")
            match = re.search(r"Plan: (\d+) to add", (folder / "plan.log").read_text())
            run.resources_planned = int(match.group(1)) if match else 0
            return ok

        self._timed(run, "plan", plan)

    def apply(self, run: StackRun) -> None:
        folder = self.workdir / run.name / "applied"
        folder.mkdir(parents=True, exist_ok=True)
        doc, run.applied_notes = copies.applied_copy(run.doc, self._versions(), self._emulator(run))
        (folder / "cdk.tf.json").write_text(json.dumps(doc, indent=2))
        self._link_assets(run, folder)

        def apply(step: Step) -> bool:
            init = self.tf(
                folder,
                "init",
                *self._backend_args(run, folder),
                "-input=false",
                "-no-color",
                log="init",
            )
            if init.returncode != 0:
                step.detail = "init with the stack's backend: " + _error_text(
                    init.stdout + init.stderr
                )
                return False
            ok = self._command_step(step, folder, "apply", "-auto-approve")
            match = re.search(r"Resources: (\d+) added", (folder / "apply.log").read_text())
            run.resources_applied = int(match.group(1)) if match else 0
            return ok

        if not self._timed(run, "apply", apply):
            return

        def replan(step: Step) -> bool:
            result = self.tf(
                folder, "plan", "-detailed-exitcode", "-input=false", "-no-color", log="re-plan"
            )
            if result.returncode == 2:
                step.detail = "the re-plan is not empty:\n" + _plan_changes(result.stdout)
            elif result.returncode != 0:
                step.detail = _error_text(result.stdout + result.stderr)
            return result.returncode == 0

        self._timed(run, "re-plan", replan)
        if run.s3_backend:
            self._timed(run, "state", lambda s: self._check_state(run, s))
        self._timed(run, "state-secrets", lambda s: self._scan_state(folder, s))

    def _scan_state(self, folder: Path, step: Step) -> bool:
        """The state the apply wrote (local or in the emulated bucket) holds no secret."""
        from devtools.secret_scan import scan_document

        pulled = self.tf(folder, "state", "pull", log="state-pull")
        if pulled.returncode != 0:
            step.detail = "state pull: " + _error_text(pulled.stdout + pulled.stderr)
            return False
        state = json.loads(pulled.stdout)
        findings = scan_document(state, "state")
        count = sum(len(r.get("instances", [])) for r in state.get("resources", []))
        step.detail = (
            "\n".join(str(f) for f in findings)
            if findings
            else f"{count} resource instances scanned: no private key, access key or password"
        )
        return not findings

    def _state_server(self, run: StackRun) -> MotoServer:
        """The emulator of the account that holds the stack's state bucket."""
        bucket = run.s3_backend["bucket"] if run.s3_backend else ""
        for other in self.report.stacks:
            for body in other.doc.get("resource", {}).get("aws_s3_bucket", {}).values():
                if body.get("bucket") == bucket:
                    return self.servers[other.account]
        return self.servers[run.account]

    def _backend_args(self, run: StackRun, folder: Path) -> list[str]:
        """`-backend-config` overrides that point the unchanged S3 backend at the emulator."""
        if not run.s3_backend:
            return []
        url = self._state_server(run).endpoint
        (folder / "emulator.s3.tfbackend").write_text(
            f'endpoints = {{ s3 = "{url}", sts = "{url}", kms = "{url}" }}\n'
            "use_path_style              = true\n"
            "skip_credentials_validation = true\n"
            "skip_requesting_account_id  = true\n"
            "skip_metadata_api_check     = true\n"
            "skip_region_validation      = true\n"
            'access_key                  = "emulated"\n'
            'secret_key                  = "emulated"\n'
        )
        return ["-backend-config=emulator.s3.tfbackend"]

    def _aws(self, server: MotoServer, service: str, region: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=server.endpoint,
            region_name=region,
            aws_access_key_id="emulated",
            aws_secret_access_key="emulated",  # noqa: S106 - a fake key for the emulator
        )

    def _check_state(self, run: StackRun, step: Step) -> bool:
        backend = run.s3_backend or {}
        bucket, key, region = backend["bucket"], backend["key"], backend.get("region", "us-east-1")
        server = self._state_server(run)
        s3, kms = self._aws(server, "s3", region), self._aws(server, "kms", region)
        problems: list[str] = []
        project, env = run.tags.get("project"), run.tags.get("environment", run.name)
        if project and key != f"{project}/{env}/terraform.tfstate":
            problems.append(f"state key {key!r} is not {project}/{env}/terraform.tfstate")
        head = s3.head_object(Bucket=bucket, Key=key)
        if head.get("ServerSideEncryption") != "aws:kms":
            problems.append(f"s3://{bucket}/{key} is {head.get('ServerSideEncryption')!r}")
        if backend.get("kms_key_id"):
            state_key = kms.describe_key(KeyId=backend["kms_key_id"])["KeyMetadata"]["Arn"]
            used = head.get("SSEKMSKeyId")
            used_arn = kms.describe_key(KeyId=used)["KeyMetadata"]["Arn"] if used else None
            if used_arn != state_key:
                problems.append(f"encrypted with {used!r}, not the state key {state_key}")
        lock = f"{key}.tflock"
        versions = s3.list_object_versions(Bucket=bucket, Prefix=lock)
        written = [v for v in versions.get("Versions", []) if v["Key"] == lock]
        markers = [m for m in versions.get("DeleteMarkers", []) if m["Key"] == lock]
        if backend.get("use_lockfile"):
            if not written:
                problems.append(f"no lock file {lock} was ever written")
            if written and not any(m["IsLatest"] for m in markers):
                problems.append(f"the lock file {lock} is still there")
        step.detail = (
            ""
            if problems
            else (
                f"s3://{bucket}/{key}: aws:kms with {head.get('SSEKMSKeyId')}; "
                f"{lock} written {len(written)}x and removed ({len(markers)} delete markers)"
            )
        )
        if problems:
            step.detail = "\n".join(problems)
        return not problems

    def _empty_buckets(self, run: StackRun, folder: Path) -> list[str]:
        """Remove what the run wrote into the stack's buckets (state and lock files, access
        logs), every version. The copies' `force_destroy` would do it, but moto 5.2 answers
        HTTP 500 when the provider deletes delete markers that way; this order it handles."""
        # `state pull` reads the state without starting the provider (`show -json` would).
        state = json.loads(self.tf(folder, "state", "pull", log="state-pull").stdout or "{}")
        region = (run.doc.get("provider", {}).get("aws") or [{}])[0].get("region", "us-east-1")
        s3 = self._aws(self.servers[run.account], "s3", region)
        emptied = []
        for resource in state.get("resources", []):
            if resource["type"] != "aws_s3_bucket" or resource.get("mode") != "managed":
                continue
            for instance in resource.get("instances", []):
                bucket = instance["attributes"]["bucket"]
                listed = s3.list_object_versions(Bucket=bucket)
                objects = [
                    {"Key": v["Key"], "VersionId": v["VersionId"]}
                    for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])
                ]
                for i in range(0, len(objects), 1000):
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": objects[i : i + 1000]})
                if objects:
                    emptied.append(f"{bucket} ({len(objects)} object versions)")
        return emptied

    def destroy(self, run: StackRun) -> None:
        folder = self.workdir / run.name / "applied"

        def destroy(step: Step) -> bool:
            emptied = self._empty_buckets(run, folder)
            # The re-plan has just refreshed every resource: no second refresh here.
            ok = self._command_step(step, folder, "destroy", "-auto-approve", "-refresh=false")
            if ok and emptied:
                step.detail = "emptied before destroy: " + "; ".join(emptied)
            return ok

        self._timed(run, "destroy", destroy)

    def run(self) -> Report:
        runs = self.load_stacks()
        self.setup(runs)
        self.report.stacks = runs
        # The full copies need nothing applied: they are checked while the applies run (an
        # apply spends much of its time waiting on the provider's polling, not on the CPU).
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="full-copy")
        try:
            checks = [pool.submit(self.check_full, run) for run in runs]
            applied: list[StackRun] = []
            for run in runs:
                self.apply(run)
                if run.steps["apply"].ok is not None:
                    applied.append(run)  # also a failed apply: destroy what it created
            for check in checks:
                check.result()
            for run in reversed(applied):
                self.destroy(run)
        finally:
            pool.shutdown(cancel_futures=True)
            for server in self.servers.values():
                server.stop()
        return self.report
