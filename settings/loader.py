"""Reading the configuration folder: one line naming file, field and value on any error."""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from settings.base import ConfigError, FieldError, Strict
from settings.environment import EnvironmentConfig
from settings.project import ProjectConfig

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"

_M = TypeVar("_M", bound=BaseModel)


class PlatformConfig(Strict):
    """The project settings and every environment, checked together, and which are selected.

    Every environment is always validated: the state bootstrap stack grants each environment's
    account access to its own state, whichever environments a synth selects."""

    project: ProjectConfig
    environments: tuple[EnvironmentConfig, ...]
    """Every environment of `config/environments/`, by name."""
    selected: tuple[str, ...]
    """The environments to synthesize stacks for (`PLATFORM_ENVIRONMENTS`; default: all)."""

    @property
    def selected_environments(self) -> tuple[EnvironmentConfig, ...]:
        return tuple(e for e in self.environments if e.name in self.selected)

    def in_other_accounts(self) -> tuple[EnvironmentConfig, ...]:
        """Environments whose account is not the project's (where the state bucket lives)."""
        return tuple(
            e for e in self.environments if e.aws_account_id != self.project.aws_account_id
        )

    def manages_account_settings(self, environment: EnvironmentConfig) -> bool:
        """True for the one stack that owns account-wide settings (one resource per account,
        such as the account's S3 public access block) of `environment`'s account: the bootstrap
        stack for the project's account, else the first environment by name in that account."""
        if environment.aws_account_id == self.project.aws_account_id:
            return False
        return environment.name == min(
            e.name for e in self.environments if e.aws_account_id == environment.aws_account_id
        )


def available_environments(config_dir: Path = CONFIG_DIR) -> list[str]:
    return sorted(p.stem for p in (config_dir / "environments").glob("*.toml"))


def load_platform(names: list[str] | None = None, config_dir: Path = CONFIG_DIR) -> PlatformConfig:
    """Load and validate the project file and every environment; select `names` (default: all)."""
    known = available_environments(config_dir)
    selected = known if names is None else names
    if not selected:
        raise ConfigError(f"no environments selected (known: {', '.join(known)})")
    for name in selected:
        if name not in known:
            raise ConfigError(
                f"environment: unknown environment {name!r} "
                f"(known: {', '.join(known)}; add config/environments/{name}.toml)"
            )
    project = _validate(ProjectConfig, _read(config_dir / "project.toml"), "config/project.toml")
    environments = tuple(
        _validate(
            EnvironmentConfig,
            # An environment without its own account deploys into the project's.
            {
                "name": name,
                "aws_account_id": project.aws_account_id,
                **_read(config_dir / "environments" / f"{name}.toml"),
            },
            f"config/environments/{name}.toml",
        )
        for name in known
    )
    _check_no_overlap(environments)
    return PlatformConfig(
        project=project,
        environments=environments,
        selected=tuple(sorted(set(selected), key=known.index)),
    )


def _check_no_overlap(environments: tuple[EnvironmentConfig, ...]) -> None:
    # Environments may be peered or joined by a transit gateway later: keep their ranges apart.
    for a, b in itertools.combinations(environments, 2):
        if a.network.ip_network.overlaps(b.network.ip_network):
            raise ConfigError(
                f"config/environments/{b.name}.toml: network.vpc_cidr = {b.network.vpc_cidr!r}: "
                f"overlaps {a.name}'s network.vpc_cidr {a.network.vpc_cidr!r}"
            )


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path.name}: file not found: {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path.name}: not valid TOML: {error}") from None


def _validate(model: type[_M], data: dict[str, Any], source: str) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        ctx_error = (first.get("ctx") or {}).get("error")
        if isinstance(ctx_error, FieldError):
            raise ConfigError(
                f"{source}: {ctx_error.field} = {ctx_error.value!r}: {ctx_error.reason}"
            ) from None
        field = ".".join(str(part) for part in first["loc"]) or "(file)"
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "missing":
            raise ConfigError(f"{source}: {field}: required field is missing") from None
        if first["type"] == "extra_forbidden":
            raise ConfigError(f"{source}: {field}: unknown field") from None
        raise ConfigError(f"{source}: {field} = {first.get('input')!r}: {message}") from None
