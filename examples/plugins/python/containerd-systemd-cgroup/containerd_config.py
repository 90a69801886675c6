"""Reads containerd's config.toml and says which cgroup driver runc gets.

Pure logic, no WIT types: app.py turns the verdict into findings. Kept apart so the rule
can be read (and changed) without the bindings in the way.
"""

import tomllib
from dataclasses import dataclass
from typing import Optional

# containerd 1.x (config `version = 2`) and 2.x (`version = 3`) keep the CRI runtimes under
# different plugin ids; a node may run either, so both are looked at.
CRI_PLUGINS = ("io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime")


@dataclass
class Verdict:
    """What the config says about one runtime's SystemdCgroup setting."""

    # The TOML table path the setting was looked for (or found) in, for the message.
    table: str
    # True / False when set explicitly; None when the key (or the runtime) is absent.
    systemd_cgroup: Optional[bool]
    # False when no CRI plugin section defines the runtime at all.
    runtime_defined: bool
    # Docker's containerd package ships `disabled_plugins = ["cri"]`: kubelet then cannot
    # talk to containerd at all, whatever SystemdCgroup says.
    cri_disabled: bool = False


class ConfigError(Exception):
    """The file is not valid TOML, or SystemdCgroup holds something other than a bool."""


def runtime_table(plugin: str, runtime: str) -> str:
    return f'plugins."{plugin}".containerd.runtimes.{runtime}.options'


def read_verdict(text: str, runtime: str) -> Verdict:
    """Finds `SystemdCgroup` for `runtime` in whichever CRI plugin section the file uses."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config.toml is not valid TOML: {err}") from err

    disabled = doc.get("disabled_plugins", [])
    cri_disabled = isinstance(disabled, list) and any(
        name in ("cri", *CRI_PLUGINS) for name in disabled
    )
    plugins = doc.get("plugins", {})
    for plugin in CRI_PLUGINS:
        runtimes = _table(_table(_table(plugins, plugin), "containerd"), "runtimes")
        if runtime not in runtimes:
            continue
        options = _table(_table(runtimes, runtime), "options")
        value = options.get("SystemdCgroup")
        if value is not None and not isinstance(value, bool):
            raise ConfigError(
                f"{runtime_table(plugin, runtime)}.SystemdCgroup is {value!r}, not true or false"
            )
        return Verdict(runtime_table(plugin, runtime), value, True, cri_disabled)
    return Verdict(runtime_table(CRI_PLUGINS[0], runtime), None, False, cri_disabled)


def _table(parent: object, key: str) -> dict:
    """The sub-table `key`, or an empty one when it is missing or not a table."""
    if not isinstance(parent, dict):
        return {}
    child = parent.get(key, {})
    return child if isinstance(child, dict) else {}
