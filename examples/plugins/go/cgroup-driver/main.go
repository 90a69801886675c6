// site.cgroup-driver: a cluster-scoped tarmac plugin (WASI command, JSON ABI). Every node's
// container runtime (containerd's runc SystemdCgroup) and kubelet must use the same cgroup
// driver, on each node and across the cluster: a kubelet on systemd with containerd on
// cgroupfs (or nodes that disagree) makes pods fail to start or be evicted under load.
// Findings: one per node that fails or cannot be judged, and one cluster-wide.
//
// Settings (all optional): {"driver": "systemd"|"cgroupfs"} requires that driver everywhere.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

const ID = "site.cgroup-driver"

type Settings struct {
	Driver string `json:"driver"`
}

func main() {
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(fmt.Sprintf("cannot read the request: %v", err))
	}
	var req Request
	if err := json.Unmarshal(input, &req); err != nil {
		fail(fmt.Sprintf("the request is not JSON: %v", err))
	}
	switch req.Call {
	case "describe":
		answer(Answer{Interface: Interface, Ok: describe()})
	case "validate-config":
		if _, err := settings(req.Config); err != nil {
			answerError(err.Error())
		}
		answer(Answer{Ok: nil})
	case "check-cluster", "check-node":
		nodes := req.Nodes
		if req.Node != nil {
			nodes = []NodeFacts{*req.Node}
		}
		s, err := settings(req.Config)
		if err != nil {
			answerError(err.Error())
		}
		answer(Answer{Ok: check(nodes, s)})
	default:
		answerError(fmt.Sprintf("unknown call %q", req.Call))
	}
}

func describe() Metadata {
	return Metadata{
		ID:          ID,
		Name:        "Container runtime and kubelet agree on the cgroup driver",
		Version:     "1.0.0",
		Description: "Every node's containerd (runc SystemdCgroup) and kubelet (cgroupDriver) use the same cgroup driver, and all nodes use the same one.",
		Scope:       "cluster",
		Requirements: Requirements{
			Files:    []string{ContainerdConfig, KubeletConfig},
			Sysctls:  []string{},
			Commands: []any{},
		},
	}
}

func settings(raw json.RawMessage) (Settings, error) {
	var s Settings
	if len(raw) == 0 {
		return s, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("settings: %v (known: driver)", err)
	}
	if s.Driver != "" && s.Driver != "systemd" && s.Driver != "cgroupfs" {
		return s, fmt.Errorf("settings: driver %q must be systemd or cgroupfs", s.Driver)
	}
	return s, nil
}

// maxNodeFindings keeps one call's answer under tarmac's 1000 findings: nodes past it are
// counted in the cluster-wide finding instead.
const maxNodeFindings = 999

// check reports each node that fails or cannot be judged, and one cluster-wide finding:
// which nodes use which driver (a pass at 1000 nodes is one finding, not 1001).
func check(nodes []NodeFacts, s Settings) []Finding {
	findings := []Finding{}
	byDriver := map[string][]string{}
	skipped, problems := 0, 0
	report := func(f Finding) {
		problems++
		if len(findings) < maxNodeFindings {
			findings = append(findings, f)
		}
	}
	for _, node := range nodes {
		d := readDrivers(node)
		name := node.Name
		switch {
		case d.Problem != "":
			report(nodeFinding(name, "error", d.Problem, "Make the file readable to tarmac's user (or run with sudo: true).", d))
		case d.Runtime == "":
			skipped++
		case d.Kubelet != "" && d.Kubelet != d.Runtime:
			report(nodeFinding(name, "fail",
				fmt.Sprintf("containerd uses the %s cgroup driver but kubelet uses %s", d.Runtime, d.Kubelet),
				"Set SystemdCgroup = true in "+ContainerdConfig+" and cgroupDriver: systemd in "+KubeletConfig+" (or both to cgroupfs), then restart containerd and kubelet.", d))
		case s.Driver != "" && d.Runtime != s.Driver:
			report(nodeFinding(name, "fail",
				fmt.Sprintf("uses the %s cgroup driver; the site requires %s", d.Runtime, s.Driver),
				"Configure containerd and kubelet for the "+s.Driver+" cgroup driver.", d))
		default:
			byDriver[d.Runtime] = append(byDriver[d.Runtime], name)
		}
	}
	return append(findings, clusterFinding(byDriver, skipped, problems-len(findings)))
}

func nodeFinding(node, status, message, remediation string, d Drivers) Finding {
	n := node
	return Finding{
		Check: ID, Node: &n, Status: status, Message: message, Remediation: remediation,
		Details: []Detail{{Key: "runtime_driver", Value: d.Runtime}, {Key: "kubelet_driver", Value: d.Kubelet}},
	}
}

// clusterFinding: every agreeing node on one driver (pass), or which nodes use which (fail).
func clusterFinding(byDriver map[string][]string, skipped, unlisted int) Finding {
	drivers := make([]string, 0, len(byDriver))
	for driver := range byDriver {
		drivers = append(drivers, driver)
	}
	sort.Strings(drivers)
	parts := make([]string, 0, len(drivers))
	for _, driver := range drivers {
		verb := " use "
		if len(byDriver[driver]) == 1 {
			verb = " uses "
		}
		parts = append(parts, names(byDriver[driver])+verb+driver)
	}
	f := Finding{Check: ID, Status: "pass", Details: []Detail{
		{Key: "drivers", Value: byDriver}, {Key: "skipped", Value: skipped},
	}}
	switch len(drivers) {
	case 0:
		f.Status, f.Message = "skip", "no node has a containerd config and agreeing drivers to compare"
	case 1:
		f.Message = "every node uses the " + drivers[0] + " cgroup driver: " + parts[0]
	default:
		f.Status = "fail"
		f.Message = "nodes disagree on the cgroup driver: " + strings.Join(parts, "; ")
		f.Remediation = "Use one cgroup driver (systemd with cgroup v2 and systemd hosts) on every node."
	}
	if skipped > 0 {
		f.Message += fmt.Sprintf(" (%d without a containerd config)", skipped)
	}
	if unlisted > 0 {
		f.Message += fmt.Sprintf(" (%d more nodes with problems not listed)", unlisted)
	}
	agreeing := 0
	for _, nodes := range byDriver {
		agreeing += len(nodes)
	}
	fmt.Fprintf(os.Stderr, "debug: %d nodes agree with themselves, %d drivers, %d skipped\n", agreeing, len(drivers), skipped)
	return f
}

// names lists at most 10 nodes, so the message stays short at any cluster size; the
// details keep every name.
func names(nodes []string) string {
	if len(nodes) <= 10 {
		return strings.Join(nodes, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(nodes[:10], ", "), len(nodes)-10)
}

func answer(a Answer) {
	out, err := json.Marshal(a)
	if err != nil {
		fail(fmt.Sprintf("cannot encode the answer: %v", err))
	}
	os.Stdout.Write(out)
	os.Exit(0)
}

func answerError(message string) {
	answer(Answer{Error: &message})
}

// fail: a broken request is not an answer; the nonzero exit and stderr say why.
func fail(message string) {
	fmt.Fprintln(os.Stderr, "error: "+message)
	os.Exit(2)
}
