"""Terraform init/validate/plan/apply/re-plan/destroy of every synthesized stack, emulated AWS.

    python -m devtools.terraform_verify [cdktf.out] [--keep]     # `make verify`

Exit status: 0 all stacks passed every step, 1 a step failed, 2 no Terraform or no provider
could be had. What runs and why the copies differ from the stacks: devtools/terraform/.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from devtools.terraform.moto import MotoUnavailable
from devtools.terraform.runner import Verification
from devtools.terraform.toolchain import ToolchainUnavailable


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", nargs="?", default="cdktf.out", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the working folder and logs")
    args = parser.parse_args(argv)

    # A terminated run still stops its emulators (the `finally` in Verification.run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="terraform-verify-"))
    verification = Verification(args.outdir, workdir, echo=lambda line: print(line, flush=True))
    try:
        report = verification.run()
    except (ToolchainUnavailable, MotoUnavailable) as exc:
        print(f"terraform verify: cannot run: {exc}", file=sys.stderr)
        shutil.rmtree(workdir, ignore_errors=True)
        return 2
    print()
    print("\n".join(report.lines()))
    if args.keep or not report.ok:
        print(f"working folder and per-step logs: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
