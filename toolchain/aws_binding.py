"""Load the prebuilt AWS provider binding one submodule at a time.

Why: `cdktf_cdktf_provider_aws/__init__.py` imports all of its ~2,200 submodules, so
`from cdktf_cdktf_provider_aws.vpc import Vpc` costs ~13 s of Python imports on top of the
~5 s jsii needs to load the provider's assembly. A synth uses a few dozen resource types.

How: `install()` puts an import finder in front of the standard ones. It serves two modules
and leaves every other import alone:

- the package `cdktf_cdktf_provider_aws` itself, as a module with the real `__path__`,
  `__file__` and `__all__` whose submodules are imported on first use (PEP 562
  `__getattr__`) instead of all at once, so `import cdktf_cdktf_provider_aws.vpc`,
  `from cdktf_cdktf_provider_aws.vpc import Vpc`, `from cdktf_cdktf_provider_aws import vpc`
  and `cdktf_cdktf_provider_aws.vpc.Vpc` all work unchanged;
- `cdktf_cdktf_provider_aws._jsii`, the module that loads the assembly into jsii (once per
  process, when the first submodule imports it). It runs unchanged, with one addition: the
  `_SUBMODULE_FQN_MAP` that newer jsii-pacmak versions generate and that this binding, built
  before them, lacks. With it the jsii runtime imports a submodule on demand when the
  JavaScript side hands back an object of a type not imported yet, which the eager
  `__init__` guaranteed by importing everything.

The submodules themselves run unchanged and register the same types with jsii, so the
synthesized JSON is byte-identical (tests/infra/test_aws_binding.py checks the real app).

Safety: the finder is installed only for the binding version and package `__init__` it was
written for (version and SHA-256 checked); otherwise, or when the package was already
imported, or when `AWS_BINDING_LAZY=0`, `install()` changes nothing, says why in a warning
(except for the explicit opt-out) and the plain, slow import happens as before.
Call `install()` before anything imports the binding: first thing in `main.py` and in the
test session.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import importlib.util
import os
import pkgutil
import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

PACKAGE = "cdktf_cdktf_provider_aws"
DISTRIBUTION = "cdktf-cdktf-provider-aws"
# The layout this loader was written against: a different binding may do more in its
# package `__init__` than import submodules, and skipping that could change the output.
SUPPORTED_VERSION = "21.22.1"
SUPPORTED_INIT_SHA256 = "422f5bd1cdf10915167939ef585d4c36e7333bf5f64742a96de00b24ac0c1b1a"
ASSEMBLY = "@cdktf/provider-aws"
# `AWS_BINDING_LAZY=0` turns the loader off (to compare with, or to rule it out).
OPT_OUT_ENV = "AWS_BINDING_LAZY"

_JSII_MODULE = f"{PACKAGE}._jsii"
# The eager `__init__` lists every submodule as one `from . import <name>` line each.
_SUBMODULE_LINE = re.compile(r"^from \. import (\w+)$", re.MULTILINE)


class BindingLayoutError(RuntimeError):
    """The installed binding is not the one this loader was written for."""


def install() -> bool:
    """Make imports of the AWS binding load only the submodules used; True if active.

    Idempotent; creates nothing and touches no environment variable. Returns False, with the
    plain import left in place, when the loader cannot be used safely.
    """
    if any(isinstance(finder, _LazyBindingFinder) for finder in sys.meta_path):
        return True
    if os.environ.get(OPT_OUT_ENV, "1") == "0":
        return False
    if PACKAGE in sys.modules:
        warnings.warn(
            f"{PACKAGE} was imported before toolchain.aws_binding.install(): "
            "all its submodules are loaded already (slow path).",
            RuntimeWarning,
            stacklevel=2,
        )
        return False
    try:
        finder = _LazyBindingFinder.for_installed_binding()
    except BindingLayoutError as error:
        warnings.warn(f"{error}; using the plain (slow) import.", RuntimeWarning, stacklevel=2)
        return False
    sys.meta_path.insert(0, finder)
    return True


def is_active() -> bool:
    """True if the binding in this process was (or will be) loaded lazily."""
    module = sys.modules.get(PACKAGE)
    if module is not None:
        spec = getattr(module, "__spec__", None)
        return isinstance(getattr(spec, "loader", None), _PackageLoader)
    return any(isinstance(finder, _LazyBindingFinder) for finder in sys.meta_path)


def _camel(snake: str) -> str:
    # jsii names submodules in camelCase (`s3BucketPolicy`); pacmak snake-cases them.
    head, *rest = snake.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class _LazyBindingFinder(importlib.abc.MetaPathFinder):
    """Serves the package and its `_jsii` module; every other name goes to the next finder."""

    def __init__(self, init_path: Path, search_path: Sequence[str], submodules: Sequence[str]):
        self._init_path = init_path
        self._search_path = list(search_path)
        self._submodules = tuple(submodules)

    @classmethod
    def for_installed_binding(cls) -> _LazyBindingFinder:
        try:
            version = importlib.metadata.version(DISTRIBUTION)
        except importlib.metadata.PackageNotFoundError as error:
            raise BindingLayoutError(f"{DISTRIBUTION} is not installed") from error
        if version != SUPPORTED_VERSION:
            raise BindingLayoutError(
                f"{DISTRIBUTION} {version} is installed, the lazy loader supports "
                f"{SUPPORTED_VERSION} only"
            )
        spec = importlib.machinery.PathFinder.find_spec(PACKAGE)
        if spec is None or spec.origin is None or not spec.submodule_search_locations:
            raise BindingLayoutError(f"{PACKAGE} is not a regular package")
        init_path = Path(spec.origin)
        source = init_path.read_bytes()
        if hashlib.sha256(source).hexdigest() != SUPPORTED_INIT_SHA256:
            raise BindingLayoutError(f"{init_path} differs from the {SUPPORTED_VERSION} release")
        submodules = _SUBMODULE_LINE.findall(source.decode("utf-8"))
        return cls(init_path, spec.submodule_search_locations, submodules)

    def find_spec(self, fullname, path=None, target=None):
        if fullname == PACKAGE:
            return importlib.util.spec_from_file_location(
                PACKAGE,
                self._init_path,
                loader=_PackageLoader(self._submodules),
                submodule_search_locations=self._search_path,
            )
        if fullname == _JSII_MODULE:
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
            if spec is None or spec.origin is None:
                return None
            fqn_map = {
                f"{ASSEMBLY}.{_camel(name)}": f"{PACKAGE}.{name}" for name in self._submodules
            }
            return importlib.util.spec_from_file_location(
                fullname,
                spec.origin,
                loader=_AssemblyLoader(fullname, spec.origin, fqn_map),
                submodule_search_locations=spec.submodule_search_locations,
            )
        return None


class _PackageLoader(importlib.abc.Loader):
    """Builds the package module without running its eager `__init__`."""

    def __init__(self, submodules: Sequence[str]):
        self._submodules = frozenset(submodules)
        self._all = list(submodules)

    def create_module(self, spec):
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        # Same `__path__` as the original's `extend_path` call gives.
        module.__path__ = pkgutil.extend_path(module.__path__, module.__name__)
        module.__all__ = list(self._all)
        submodules = self._submodules
        name = module.__name__

        def __getattr__(attribute: str):
            # Runs only for names not set yet: importing a submodule binds it on the package.
            if attribute in submodules:
                return importlib.import_module(f"{name}.{attribute}")
            raise AttributeError(f"module {name!r} has no attribute {attribute!r}")

        def __dir__():
            return sorted(set(module.__dict__) | submodules)

        module.__getattr__ = __getattr__
        module.__dir__ = __dir__


class _AssemblyLoader(importlib.machinery.SourceFileLoader):
    """Runs the binding's `_jsii` module unchanged, with the submodule map newer pacmak emits."""

    def __init__(self, fullname: str, path: str, fqn_map: dict[str, str]):
        super().__init__(fullname, path)
        self._fqn_map = fqn_map

    def exec_module(self, module: ModuleType) -> None:
        # `jsii.JSIIAssembly.load` reads `_SUBMODULE_FQN_MAP` from this module while it runs.
        module._SUBMODULE_FQN_MAP = dict(self._fqn_map)
        super().exec_module(module)
