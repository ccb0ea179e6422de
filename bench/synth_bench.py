"""Synth benchmark: the full synth next to the cost of merely loading the AWS binding.

    make bench-synth                      # 3 warm runs per case, then the first-run figures
    .venv/bin/python bench/synth_bench.py --runs 5 --save

Every measured case runs in a fresh subprocess:

- floor: `import cdktf_cdktf_provider_aws` (the plain, eager import) and the synth of an empty
  stack with an S3 backend and the AWS provider: what any synth pays before its first resource;
- full synth: `python main.py`, every stack, into a temporary output folder (the fast binding
  loader of toolchain/aws_binding.py active, as main.py installs it);
- full synth, plain import: the same with `AWS_BINDING_LAZY=0`, to show what the loader saves.

Warm runs use jsii's ordinary package cache (one untimed run fills it first) and report the
median of N runs. First-run figures point jsii at an empty cache
(`JSII_RUNTIME_PACKAGE_CACHE_ROOT`, which replaces `~/.cache/aws/jsii/package-cache`), one
run per case. Peak memory is the largest sum of RSS over the process tree (Python plus the
jsii Node process), sampled from /proc every 20 ms; "max proc" is the largest single process
(from wait4). Nothing is written into the repository unless `--save` is given, which writes a
JSON file under bench/results/ (ignored by git).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from toolchain import aws_binding, node  # noqa: E402  (cheap: does not load the binding)

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024

# The floor: the plain binding import plus the smallest synth a real stack does.
FLOOR_PROGRAM = """
import sys
import cdktf_cdktf_provider_aws
from cdktf import App, S3Backend, TerraformStack
from cdktf_cdktf_provider_aws.provider import AwsProvider

app = App(outdir=sys.argv[1], stack_traces=False)
stack = TerraformStack(app, "empty")
S3Backend(stack, bucket="bench-state", key="bench/terraform.tfstate", region="eu-west-1")
AwsProvider(stack, "aws", region="eu-west-1")
app.synth()
"""


@dataclass(frozen=True)
class Case:
    name: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Sample:
    wall_s: float
    tree_peak_mib: float
    max_proc_mib: float


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0  # the process just ended


def _descendants(root: int) -> set[int]:
    # /proc/<pid>/task/*/children is not always compiled in: build the tree from ppids.
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                # The command name is in parentheses and may hold spaces: split after it.
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = {root}, [root]
    while todo:
        for child in parents.get(todo.pop(), ()):
            if child not in tree:
                tree.add(child)
                todo.append(child)
    return tree


def _run(case: Case, outdir: Path, base_env: dict[str, str]) -> Sample:
    env = {**base_env, **dict(case.env), "CDKTF_OUTDIR": str(outdir)}
    argv = [part.replace("{outdir}", str(outdir)) for part in case.argv]
    peak = 0
    done = threading.Event()
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.02):
            peak = max(peak, sum(_rss_bytes(pid) for pid in _descendants(proc.pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # Read the pipes in threads so a chatty child never blocks on a full pipe.
    output: dict[str, bytes] = {}
    readers = [
        threading.Thread(target=lambda k=k, s=s: output.__setitem__(k, s.read()), daemon=True)
        for k, s in (("stdout", proc.stdout), ("stderr", proc.stderr))
    ]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    for reader in readers:
        reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.stderr.write(output.get("stderr", b"").decode(errors="replace")[-4000:])
        raise SystemExit(f"{case.name}: exit status {proc.returncode}")
    if not any(outdir.rglob("cdk.tf.json")):
        raise SystemExit(f"{case.name}: no cdk.tf.json written under the output folder")
    # ru_maxrss is in KiB on Linux; wait4 folds in the child's own waited children (Node).
    return Sample(wall, peak / MIB, usage.ru_maxrss / 1024)


def _measure(case: Case, env: dict[str, str]) -> Sample:
    with tempfile.TemporaryDirectory(prefix="synth-bench-") as tmp:
        return _run(case, Path(tmp) / "out", env)


def _median(samples: list[Sample]) -> Sample:
    return Sample(
        statistics.median(s.wall_s for s in samples),
        statistics.median(s.tree_peak_mib for s in samples),
        statistics.median(s.max_proc_mib for s in samples),
    )


def _row(label: str, sample: Sample, floor: Sample) -> str:
    return (
        f"{label:<34} {sample.wall_s:8.2f} {sample.tree_peak_mib:10.0f} "
        f"{sample.max_proc_mib:9.0f} {sample.wall_s / floor.wall_s:9.2f} "
        f"{sample.tree_peak_mib / floor.tree_peak_mib:8.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="warm runs per case (median)")
    parser.add_argument("--app", default="main.py", help="app to synthesize (repo-relative)")
    parser.add_argument("--no-plain", action="store_true", help="skip the plain-import synth")
    parser.add_argument("--no-first-run", action="store_true", help="skip the empty-cache runs")
    parser.add_argument("--save", action="store_true", help="write bench/results/synth-*.json")
    args = parser.parse_args()
    if not (REPO_ROOT / args.app).is_file():
        raise SystemExit(f"no app at {args.app}")

    python = sys.executable
    env = dict(os.environ)
    node_path = node.node_binary()
    if node_path is not None:
        env["JSII_NODE"] = node_path  # the wheel's supported Node: no end-of-life banner
    env["JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION"] = "1"
    env["CHECKPOINT_DISABLE"] = "1"
    env.pop("JSII_RUNTIME_PACKAGE_CACHE_ROOT", None)
    env.pop(aws_binding.OPT_OUT_ENV, None)

    floor = Case("floor", (python, "-c", FLOOR_PROGRAM, "{outdir}"))
    full = Case("full", (python, args.app))
    plain = Case("plain", (python, args.app), ((aws_binding.OPT_OUT_ENV, "0"),))
    cases = [floor, full] + ([] if args.no_plain else [plain])
    labels = {
        "floor": "floor: eager import + empty stack",
        "full": "full synth (fast loader)",
        "plain": "full synth (plain import)",
    }

    # Untimed: warms jsii's package cache, and checks the app synthesizes before timing starts.
    _measure(floor, env)
    _measure(full, env)
    warm: dict[str, list[Sample]] = {case.name: [] for case in cases}
    for _ in range(args.runs):
        for case in cases:  # interleaved, so drift on a shared machine hits every case alike
            warm[case.name].append(_measure(case, env))
    medians = {name: _median(samples) for name, samples in warm.items()}

    first: dict[str, Sample] = {}
    if not args.no_first_run:
        for case in (floor, full):
            with tempfile.TemporaryDirectory(prefix="jsii-cache-") as cache:
                first[case.name] = _measure(case, {**env, "JSII_RUNTIME_PACKAGE_CACHE_ROOT": cache})

    node_version = subprocess.run(
        [env.get("JSII_NODE", "node"), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    print(
        f"synth benchmark: {args.app}, Python {platform.python_version()}, Node {node_version}, "
        f"{os.cpu_count()} CPUs"
    )
    header = (
        f"{'case':<34} {'wall s':>8} {'peak MiB':>10} {'max proc':>9} {'x floor':>9} {'x mem':>8}"
    )
    print(f"\nwarm jsii cache, median of {args.runs} runs")
    print(header)
    for case in cases:
        print(_row(labels[case.name], medians[case.name], medians["floor"]))
    if first:
        print("\nfirst run (empty jsii cache), 1 run each")
        print(header)
        for name, sample in first.items():
            print(_row(labels[name], sample, first["floor"]))
    print(
        "\npeak MiB = largest RSS sum of the process tree (Python + jsii's Node); "
        "max proc = largest single process"
    )

    if args.save:
        results = REPO_ROOT / "bench" / "results"
        results.mkdir(parents=True, exist_ok=True)
        path = results / time.strftime("synth-%Y%m%dT%H%M%SZ.json", time.gmtime())
        path.write_text(
            json.dumps(
                {
                    "app": args.app,
                    "runs": args.runs,
                    "node": node_version,
                    "warm": {k: [asdict(s) for s in v] for k, v in warm.items()},
                    "warm_median": {k: asdict(v) for k, v in medians.items()},
                    "first_run": {k: asdict(v) for k, v in first.items()},
                },
                indent=2,
            )
            + "\n"
        )
        print(f"saved {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
