"""The fast AWS binding loader (toolchain/aws_binding.py) changes nothing but the load time.

The plain, eager import is run once, in one subprocess, because a pytest process holds one
binding load (the fast one); that subprocess synthesizes the real app and also checks the
loader's type map against every submodule the eager import loads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import toolchain
from settings import PlatformConfig
from tests.support.synth_fixtures import synth_platform
from toolchain import aws_binding, node

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE = aws_binding.PACKAGE

# Before any test module can import the binding through modules/ or stacks/.
toolchain.prepare()

# Runs in a fresh interpreter with the loader turned off: the same synth as the fast side,
# then a check of the loader's FQN map against the types the eager import registered.
PLAIN_SIDE = """
import json, sys
from pathlib import Path

import toolchain
from settings import load_platform
from toolchain import aws_binding

toolchain.prepare()
from tests.support.synth_fixtures import synth_platform

synth_platform(load_platform(), Path(sys.argv[1]))
import jsii._reference_map as reference_map

finder = aws_binding._LazyBindingFinder.for_installed_binding()
expected = {f"{aws_binding.ASSEMBLY}.{aws_binding._camel(n)}": n for n in finder._submodules}
namespaces = {}
for registry in (reference_map._types, reference_map._data_types, reference_map._enums):
    for fqn, cls in registry.items():
        if fqn.startswith(aws_binding.ASSEMBLY + "."):
            namespace = fqn.rsplit(".", 1)[0]
            namespaces.setdefault(namespace, set()).add(cls.__module__)
package = sys.modules[aws_binding.PACKAGE]
print(json.dumps({
    "lazy": aws_binding.is_active(),
    "submodules_loaded": sum(1 for n in package.__all__ if f"{package.__name__}.{n}" in sys.modules),
    "submodules": len(package.__all__),
    "map_errors": sorted(
        f"{ns} -> {expected.get(ns)} but types live in {sorted(mods)}"
        for ns, mods in namespaces.items()
        if {m.rsplit('.', 1)[-1] for m in mods} != {expected.get(ns)}
    ),
    "namespaces": len(namespaces),
}))
"""


def _python(code: str, *args: str, env: dict[str, str] | None = None, base=None, timeout=60):
    """Run `code` in a fresh interpreter from the repository root; env overrides `base`."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO_ROOT,
        env={**(os.environ if base is None else base), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _loaded_submodules() -> list[str]:
    package = sys.modules[PACKAGE]
    return [n for n in package.__all__ if f"{PACKAGE}.{n}" in sys.modules]


@pytest.fixture(scope="module")
def plain_started(tmp_path_factory) -> tuple[Path, subprocess.Popen]:
    """Starts the plain-import synth early: it runs on the other core while this process works."""
    outdir = tmp_path_factory.mktemp("plain-import")
    process = subprocess.Popen(
        [sys.executable, "-c", PLAIN_SIDE, str(outdir)],
        cwd=REPO_ROOT,
        env={**os.environ, aws_binding.OPT_OUT_ENV: "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield outdir, process
    if process.poll() is None:
        process.kill()
        process.communicate()


@pytest.fixture(scope="module")
def plain(plain_started) -> tuple[Path, dict]:
    """The whole app synthesized with the plain import: (output folder, facts printed)."""
    outdir, process = plain_started
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-4000:]
    return outdir, json.loads(stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def fast(plain_started, platform_config: PlatformConfig, tmp_path_factory) -> Path:
    """The whole app synthesized in this process, through the fast loader."""
    assert aws_binding.install(), "the fast loader could not be installed (see the warning)"
    outdir = tmp_path_factory.mktemp("fast-loader")
    synth_platform(platform_config, outdir)
    assert aws_binding.is_active(), (
        f"{PACKAGE} was imported before toolchain.aws_binding.install() in this test session"
    )
    return outdir


def test_fast_loader_synthesizes_byte_identical_json(fast: Path, plain: tuple[Path, dict]):
    fast_files, plain_files = _tree(fast), _tree(plain[0])
    assert any(name.endswith("cdk.tf.json") for name in fast_files)
    assert sorted(fast_files) == sorted(plain_files)
    for name, content in plain_files.items():
        assert fast_files[name] == content, f"{name} differs between the two loaders"


def test_fast_loader_imports_only_the_submodules_in_use(fast: Path, plain: tuple[Path, dict]):
    facts = plain[1]
    # The comparison means something only if the plain side really took the eager path.
    assert facts["lazy"] is False
    assert facts["submodules_loaded"] == facts["submodules"] > 2000
    assert 0 < len(_loaded_submodules()) < facts["submodules"] // 10


def test_type_map_names_the_module_of_every_provider_type(plain: tuple[Path, dict]):
    facts = plain[1]
    assert facts["namespaces"] > 2000
    assert facts["map_errors"] == []


def test_runtime_imports_an_unloaded_submodule_for_a_type_it_meets(fast: Path):
    # jsii's reference map calls this when the JavaScript side returns an object of a type not
    # registered yet; the eager `__init__` made that impossible by importing everything.
    from jsii._reference_map import _try_import_type_module, _types

    name = next(n for n in sys.modules[PACKAGE].__all__ if n not in _loaded_submodules())
    class_fqn = f"{aws_binding.ASSEMBLY}.{aws_binding._camel(name)}.Anything"
    assert _try_import_type_module(class_fqn)
    module = sys.modules[f"{PACKAGE}.{name}"]
    assert any(getattr(cls, "__module__", None) == module.__name__ for cls in _types.values())


def test_package_module_serves_every_import_form(fast: Path):
    import cdktf_cdktf_provider_aws as aws
    from cdktf_cdktf_provider_aws import xray_group
    from cdktf_cdktf_provider_aws.vpc import Vpc

    assert aws_binding.install() is True  # idempotent
    assert aws.vpc.Vpc is Vpc
    assert xray_group.XrayGroup.__module__ == f"{PACKAGE}.xray_group"
    assert Path(aws.__file__).name == "__init__.py"
    assert "wafv2_web_acl" in dir(aws)
    assert "wafv2_web_acl" in aws.__all__
    with pytest.raises(AttributeError, match="no_such_resource"):
        aws.no_such_resource  # noqa: B018


FALLBACK_PROBE = """
import json, sys, types, warnings
from toolchain import aws_binding as b

case = sys.argv[1]
if case == "other-version":
    b.SUPPORTED_VERSION = "0.0.0"
elif case == "other-init":
    b.SUPPORTED_INIT_SHA256 = "0" * 64
elif case == "imported-first":
    sys.modules[b.PACKAGE] = types.ModuleType(b.PACKAGE)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    active = b.install()
print(json.dumps({
    "active": active,
    "finder": any(isinstance(f, b._LazyBindingFinder) for f in sys.meta_path),
    "is_active": b.is_active(),
    "warnings": [str(w.message) for w in caught],
}))
"""


@pytest.mark.parametrize(
    ("case", "env", "warning"),
    [
        ("other-version", {}, "is installed, the lazy loader supports 0.0.0 only"),
        ("other-init", {}, "differs from the"),
        ("imported-first", {}, "was imported before"),
        ("opted-out", {aws_binding.OPT_OUT_ENV: "0"}, None),
    ],
)
def test_install_leaves_the_plain_import_in_place_when_unsafe(case, env, warning):
    done = _python(FALLBACK_PROBE, case, env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["active"] is False
    assert result["finder"] is False
    assert result["is_active"] is False
    if warning is None:
        assert result["warnings"] == []
    else:
        assert len(result["warnings"]) == 1
        assert warning in result["warnings"][0]


NODE_PROBE = """
import os
from toolchain import node
node.configure_node()
print(os.environ["JSII_NODE"], os.environ["JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION"])
"""


def test_configure_node_points_jsii_at_the_wheel_node_unless_told_otherwise():
    wheel_node = node.node_binary()
    assert wheel_node is not None and Path(wheel_node).is_file()
    # This process has JSII_NODE set already (by prepare()): the probe starts without it.
    no_jsii = {k: v for k, v in os.environ.items() if not k.startswith("JSII_")}
    done = _python(NODE_PROBE, base=no_jsii)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [wheel_node, "1"]
    custom = _python(NODE_PROBE, base=no_jsii, env={"JSII_NODE": "/opt/node/bin/node"})
    assert custom.stdout.split() == ["/opt/node/bin/node", "1"]


INSTALL_SIDE_EFFECT_PROBE = """
import json, os
from toolchain import aws_binding
before = dict(os.environ)
aws_binding.install()
print(json.dumps(sorted(set(os.environ.items()) ^ set(before.items()))))
"""


def test_install_changes_no_environment_variable():
    no_jsii = {k: v for k, v in os.environ.items() if not k.startswith(("JSII_", "NODE_"))}
    done = _python(INSTALL_SIDE_EFFECT_PROBE, base=no_jsii)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
