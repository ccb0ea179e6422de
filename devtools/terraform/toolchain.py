"""Which Terraform and which AWS provider can be had here, and a Terraform CLI config of our own.

The harness never reads or edits the user's CLI config: it writes one into its temporary folder
(a filesystem mirror of hashicorp/aws where one is found, the registry otherwise, and a plugin
cache shared by every working directory of the run) and points `TF_CLI_CONFIG_FILE` at it for
its own subprocesses only.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# The short source address: Terraform adds its default registry host itself, and a mirror holds
# the provider under <mirror>/<host>/hashicorp/aws/<version>/<platform>/.
PROVIDER_SOURCE = "hashicorp/aws"

# Where Terraform itself looks for implied local mirrors, plus the usual places a machine image
# puts an explicit one. `TERRAFORM_PROVIDER_MIRROR` names one directly.
_MIRROR_ROOTS = (
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
    "/opt",
    "/usr/local",
    "/srv",
)


class ToolchainUnavailable(RuntimeError):
    """No Terraform binary, or no hashicorp/aws provider, can be had on this machine."""


@dataclass(frozen=True)
class Version:
    parts: tuple[int, int, int]

    @classmethod
    def parse(cls, text: str) -> Version:
        match = re.match(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?", text.strip())
        if not match:
            raise ValueError(f"not a version: {text!r}")
        major, minor, patch = (int(p) if p else 0 for p in match.groups())
        return cls((major, minor, patch))

    def __lt__(self, other: Version) -> bool:
        return self.parts < other.parts

    def __le__(self, other: Version) -> bool:
        return self.parts <= other.parts

    def __str__(self) -> str:
        return ".".join(map(str, self.parts))


def satisfies(version: str, constraint: str) -> bool:
    """Terraform's version constraint syntax: `=`, `!=`, `>`, `>=`, `<`, `<=`, `~>`, comma = and."""
    have = Version.parse(version)
    for clause in filter(None, (c.strip() for c in constraint.split(","))):
        match = re.match(r"^(=|!=|>=|<=|>|<|~>)?\s*(\S+)$", clause)
        if not match:
            raise ValueError(f"not a version constraint: {constraint!r}")
        op, text = match.group(1) or "=", match.group(2)
        want = Version.parse(text)
        segments = len(text.lstrip("v").split("."))
        if op == "~>":
            # `~> 6.25` allows 6.25 up to (not incl.) 7.0; `~> 6.25.1` up to 6.26.0.
            upper = list(want.parts[: max(segments - 1, 1)])
            upper[-1] += 1
            upper_version = Version(tuple(upper + [0] * (3 - len(upper))))  # type: ignore[arg-type]
            ok = want <= have and have < upper_version
        else:
            ok = {
                "=": have == want,
                "!=": have != want,
                ">": want < have,
                ">=": want <= have,
                "<": have < want,
                "<=": have <= want,
            }[op]
        if not ok:
            return False
    return True


@dataclass(frozen=True)
class Terraform:
    binary: str
    version: str
    platform: str  # e.g. linux_amd64


def find_terraform() -> Terraform:
    binary = os.environ.get("TERRAFORM_BINARY") or shutil.which("terraform")
    if not binary:
        raise ToolchainUnavailable("no `terraform` binary on PATH (or TERRAFORM_BINARY)")
    # An empty CLI config: the user's (possibly missing) one would only add a warning here.
    env = {**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"}
    try:
        out = subprocess.run(
            [binary, "version", "-json"], capture_output=True, text=True, env=env, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolchainUnavailable(f"{binary} does not run: {exc}") from exc
    if out.returncode != 0:
        raise ToolchainUnavailable(f"{binary} version failed: {out.stderr.strip()[:500]}")
    info = json.loads(out.stdout)
    return Terraform(binary, info["terraform_version"], info.get("platform", "linux_amd64"))


@dataclass(frozen=True)
class Mirror:
    path: Path  # the folder that holds <host>/hashicorp/aws/
    versions: tuple[str, ...]  # hashicorp/aws versions it has for this platform, oldest first


def find_mirror(platform: str) -> Mirror | None:
    """A filesystem mirror holding hashicorp/aws for `platform`, the one with the newest version."""
    named = os.environ.get("TERRAFORM_PROVIDER_MIRROR")
    roots = [named] if named else [os.path.expanduser(r) for r in _MIRROR_ROOTS]
    found: dict[Path, set[str]] = {}
    for root in roots:
        for depth in range(4):
            pattern = os.path.join(root, *(["*"] * depth), "*", PROVIDER_SOURCE, "*", platform)
            for platform_dir in glob.glob(pattern):
                if glob.glob(os.path.join(platform_dir, "terraform-provider-aws_*")):
                    version_dir = Path(platform_dir).parent
                    found.setdefault(version_dir.parents[3], set()).add(version_dir.name)
    mirrors = [Mirror(p, tuple(sorted(v, key=Version.parse))) for p, v in found.items()]
    if not mirrors:
        return None
    return max(mirrors, key=lambda m: Version.parse(m.versions[-1]).parts)


def cli_config(mirror: Mirror | None, plugin_cache: Path) -> str:
    """CLI config text: the mirror for hashicorp/aws where there is one, else the registry."""
    if mirror is None:
        installation = "  direct {}\n"
    else:
        installation = (
            "  filesystem_mirror {\n"
            f"    path    = {json.dumps(str(mirror.path))}\n"
            f'    include = ["{PROVIDER_SOURCE}"]\n'
            "  }\n"
            "  direct {\n"
            f'    exclude = ["{PROVIDER_SOURCE}"]\n'
            "  }\n"
        )
    return (
        f"provider_installation {{\n{installation}}}\n"
        f"plugin_cache_dir   = {json.dumps(str(plugin_cache))}\n"
        "disable_checkpoint = true\n"
    )


@dataclass(frozen=True)
class ProviderChoice:
    """The provider version a copy runs, and whether it had to leave the stacks' constraint."""

    constraint: str  # what the stacks ask for, e.g. "~> 6.25"
    pin: str | None  # the version written into the copies, None = keep the constraint
    note: str

    @property
    def relaxed(self) -> bool:
        return self.pin is not None


def choose_provider(constraint: str, mirror: Mirror | None) -> ProviderChoice:
    if mirror is None:
        return ProviderChoice(constraint, None, f"hashicorp/aws {constraint} from the registry")
    fitting = [v for v in mirror.versions if satisfies(v, constraint)]
    if fitting:
        return ProviderChoice(
            constraint, None, f"hashicorp/aws {fitting[-1]} from the mirror {mirror.path}"
        )
    newest = mirror.versions[-1]
    return ProviderChoice(
        constraint,
        newest,
        f"hashicorp/aws {newest} from the mirror {mirror.path}: older than the stacks' "
        f"`{constraint}`, so the copies pin {newest}",
    )
