"""Typed, validated platform configuration.

One TOML file per environment under `config/environments/<name>.toml` (adding an environment is
adding a file) and the settings they share in `config/project.toml`. An environment's settings
come in one section per layer (`[network]`, `[alarms]`, ...), each a small pydantic model. Every
value is checked before any construct exists (and before the AWS binding loads), and a bad one
raises `ConfigError` naming the file, the field and the value.
"""

from settings.base import ConfigError
from settings.environment import AlarmSettings, DataSettings, EnvironmentConfig, NetworkSettings
from settings.loader import CONFIG_DIR, PlatformConfig, available_environments, load_platform
from settings.project import ProjectConfig, StateConfig

__all__ = [
    "CONFIG_DIR",
    "AlarmSettings",
    "ConfigError",
    "DataSettings",
    "EnvironmentConfig",
    "NetworkSettings",
    "PlatformConfig",
    "ProjectConfig",
    "StateConfig",
    "available_environments",
    "load_platform",
]
