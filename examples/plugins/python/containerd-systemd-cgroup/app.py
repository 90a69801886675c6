"""tarmac plugin: containerd must hand runc the systemd cgroup driver.

kubeadm configures the kubelet with `cgroupDriver: systemd`; when containerd's runc still uses
cgroupfs, the node has two cgroup managers and pods get evicted or fail to start under memory
pressure. This plugin reads /etc/containerd/config.toml (gathered by tarmac, declared in
describe()) and checks `SystemdCgroup = true` for the runtime kubelet uses.
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import host
from wit_world.imports.types import (
    Detail,
    Finding,
    LogLevel,
    Metadata,
    NodeFacts,
    Requirements,
    Scope,
    Status,
)

from containerd_config import ConfigError, Verdict, read_verdict

CHECK_ID = "site.containerd-systemd-cgroup"
CONFIG_PATH = "/etc/containerd/config.toml"
# Settings and their defaults; validate_config rejects anything else.
DEFAULTS = {"runtime": "runc", "require_containerd": False}
RESTART = "then restart containerd (systemctl restart containerd)"


class WitWorld(wit_world.WitWorld):
    def describe(self) -> Metadata:
        return Metadata(
            id=CHECK_ID,
            name="containerd uses the systemd cgroup driver",
            version="0.1.0",
            description=(
                "containerd's config.toml sets SystemdCgroup = true for the runtime kubelet uses, "
                "so kubelet (cgroupDriver: systemd) and runc agree on one cgroup manager."
            ),
            scope=Scope.NODE,
            requirements=Requirements(files=[CONFIG_PATH], sysctls=[], commands=[]),
        )

    def validate_config(self, config: str) -> None:
        settings(config)

    def check(self, nodes: list[NodeFacts], config: str) -> list[Finding]:
        wanted = settings(config)
        return [judge(node, wanted) for node in nodes]


def settings(config: str) -> dict:
    """Parses the plugin's settings, raising Err naming the bad one."""
    try:
        given = json.loads(config or "{}")
    except json.JSONDecodeError as err:
        raise Err(f"config is not JSON: {err}")
    if not isinstance(given, dict):
        raise Err("config must be a JSON object, e.g. {\"runtime\": \"runc\"}")
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise Err(f"unknown setting {unknown[0]!r}; known: runtime, require_containerd")
    merged = {**DEFAULTS, **given}
    runtime = merged["runtime"]
    if not isinstance(runtime, str) or not runtime or not all(
        c.isalnum() or c in "-_." for c in runtime
    ):
        raise Err(f"runtime must be a runtime handler name like \"runc\", got {runtime!r}")
    if not isinstance(merged["require_containerd"], bool):
        raise Err("require_containerd must be true or false")
    return merged


def judge(node: NodeFacts, wanted: dict) -> Finding:
    file = next((f for f in node.files if f.path == CONFIG_PATH), None)
    if file is None:
        return finding(node, Status.ERROR, f"{CONFIG_PATH} was not gathered for this node", "")
    if not file.exists:
        if wanted["require_containerd"]:
            return finding(
                node,
                Status.FAIL,
                f"{CONFIG_PATH} does not exist, and this site requires containerd",
                "install containerd and write its config: "
                f"containerd config default > {CONFIG_PATH}, set SystemdCgroup = true, {RESTART}",
            )
        return finding(node, Status.SKIP, f"{CONFIG_PATH} does not exist: containerd is not set up here", "")
    if file.error is not None:
        return finding(node, Status.ERROR, f"{CONFIG_PATH} could not be read: {file.error}", "")
    if file.truncated:
        return finding(node, Status.ERROR, f"{CONFIG_PATH} is larger than tarmac reads (64 KiB)", "")

    runtime = wanted["runtime"]
    try:
        verdict = read_verdict(file.content, runtime)
    except ConfigError as err:
        return finding(node, Status.FAIL, str(err), f"fix {CONFIG_PATH}, {RESTART}")
    host.log(LogLevel.DEBUG, f"{node.name}: {verdict.table} SystemdCgroup={verdict.systemd_cgroup}")
    return judge_verdict(node, verdict, runtime)


def judge_verdict(node: NodeFacts, verdict: Verdict, runtime: str) -> Finding:
    details = [Detail("table", json.dumps(verdict.table))]
    if verdict.cri_disabled:
        return finding(
            node,
            Status.FAIL,
            f"{CONFIG_PATH} disables the CRI plugin (disabled_plugins), so kubelet cannot use containerd",
            f"remove \"cri\" from disabled_plugins in {CONFIG_PATH}, {RESTART}",
            details,
        )
    if verdict.systemd_cgroup is True:
        return finding(node, Status.PASS, f"runc runtime {runtime!r} uses the systemd cgroup driver", "", details)
    fix = f"set SystemdCgroup = true under [{verdict.table}] in {CONFIG_PATH}, {RESTART}"
    if not verdict.runtime_defined:
        message = f"{CONFIG_PATH} defines no runtime {runtime!r}, so runc falls back to cgroupfs"
    elif verdict.systemd_cgroup is None:
        message = f"SystemdCgroup is not set for runtime {runtime!r} (containerd's default is cgroupfs)"
    else:
        message = f"SystemdCgroup = false for runtime {runtime!r}: runc uses cgroupfs, kubelet uses systemd"
    return finding(node, Status.FAIL, message, fix, details)


def finding(node: NodeFacts, status: Status, message: str, remediation: str, details=None) -> Finding:
    return Finding(
        check=CHECK_ID,
        node=node.name,
        status=status,
        message=message,
        remediation=remediation,
        details=details or [],
    )
