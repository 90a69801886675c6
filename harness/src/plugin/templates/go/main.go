// site.{{name}}: a tarmac plugin check, a WASI command module. tarmac writes one JSON
// request on stdin and reads one JSON answer from stdout (PLUGINS.md, "The JSON ABI");
// stderr is the plugin's log ("debug: ...", "warn: ..." set the level). Edit `check`.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

const (
	ID        = "site.{{name}}"
	Interface = "tarmac:check@0.1.0"
)

type Request struct {
	Call   string          `json:"call"`
	Config json.RawMessage `json:"config"`
	Node   *NodeFacts      `json:"node"`  // check-node
	Nodes  []NodeFacts     `json:"nodes"` // check-cluster
}

// NodeFacts: the fields this check reads; see the schema for all of them.
type NodeFacts struct {
	Name          string `json:"name"`
	KernelRelease string `json:"kernel-release"`
	Cpus          uint32 `json:"cpus"`
}

type Finding struct {
	Check       string  `json:"check"`
	Node        *string `json:"node"`
	Status      string  `json:"status"` // pass, skip, warn, fail, error
	Message     string  `json:"message"`
	Remediation string  `json:"remediation"`
}

func main() {
	input, _ := io.ReadAll(os.Stdin)
	var req Request
	if err := json.Unmarshal(input, &req); err != nil {
		fmt.Fprintln(os.Stderr, "error: the request is not JSON:", err)
		os.Exit(2)
	}
	switch req.Call {
	case "describe":
		reply(map[string]any{"interface": Interface, "ok": map[string]any{
			"id": ID, "name": "{{name}}", "version": "0.1.0",
			"description":  "Every node has at least 2 CPUs.",
			"scope":        "node", // or "cluster": one check-cluster call with every node
			"requirements": map[string]any{"files": []string{}, "sysctls": []string{}, "commands": []any{}},
		}})
	case "validate-config":
		if string(req.Config) != "{}" {
			reply(map[string]any{"error": "this plugin takes no settings, got " + string(req.Config)})
		}
		reply(map[string]any{"ok": nil})
	case "check-node":
		reply(map[string]any{"ok": []Finding{check(*req.Node)}})
	default:
		reply(map[string]any{"error": "unexpected call " + req.Call})
	}
}

func check(node NodeFacts) Finding {
	fmt.Fprintf(os.Stderr, "debug: checking %s\n", node.Name)
	f := Finding{Check: ID, Node: &node.Name, Status: "pass", Message: fmt.Sprintf("%d CPUs (need at least 2)", node.Cpus)}
	if node.Cpus < 2 {
		f.Status, f.Remediation = "fail", "add CPUs"
	}
	return f
}

func reply(answer any) {
	out, _ := json.Marshal(answer)
	os.Stdout.Write(out)
	os.Exit(0)
}
