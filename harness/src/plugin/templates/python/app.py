"""tarmac plugin `site.{{name}}`: every node has at least 2 CPUs.

Edit `check` to judge each node; `node.facts_json` holds the complete facts document.
"""

import wit_world
from componentize_py_types import Err
from wit_world.imports import host
from wit_world.imports.types import Finding, LogLevel, Metadata, NodeFacts, Requirements, Scope, Status

CHECK_ID = "site.{{name}}"


class WitWorld(wit_world.WitWorld):
    def describe(self) -> Metadata:
        return Metadata(
            id=CHECK_ID,
            name="{{name}}",
            version="0.1.0",
            description="Every node has at least 2 CPUs.",
            scope=Scope.NODE,
            requirements=Requirements(files=[], sysctls=[], commands=[]),
        )

    def validate_config(self, config: str) -> None:
        if config.strip() != "{}":
            raise Err(f"this plugin takes no settings, got {config}")

    def check(self, nodes: list[NodeFacts], config: str) -> list[Finding]:
        host.log(LogLevel.DEBUG, f"checking {len(nodes)} node(s)")
        return [
            Finding(
                check=CHECK_ID,
                node=node.name,
                status=Status.PASS if node.cpus >= 2 else Status.FAIL,
                message=f"{node.cpus} CPUs (need at least 2)",
                remediation="" if node.cpus >= 2 else "add CPUs",
                details=[],
            )
            for node in nodes
        ]
