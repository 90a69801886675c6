// The tarmac JSON ABI (PLUGINS.md, "The JSON ABI"; docs/plugin-abi.schema.json): one
// request on stdin, one answer on stdout. Field names are the WIT world's, kebab-case.
package main

import "encoding/json"

// Interface is the tarmac:check version this plugin was written against.
const Interface = "tarmac:check@0.1.0"

type Request struct {
	Call      string          `json:"call"`
	Interface string          `json:"interface"`
	Config    json.RawMessage `json:"config"`
	Node      *NodeFacts      `json:"node"`
	Nodes     []NodeFacts     `json:"nodes"`
}

type NodeFacts struct {
	Name          string        `json:"name"`
	Address       string        `json:"address"`
	Roles         []string      `json:"roles"`
	Hostname      string        `json:"hostname"`
	KernelRelease string        `json:"kernel-release"`
	Files         []FileContent `json:"files"`
	// The complete facts document; this plugin reads kernel.cgroup from it.
	Facts struct {
		Kernel struct {
			Cgroup string `json:"cgroup"`
		} `json:"kernel"`
	} `json:"facts"`
}

type FileContent struct {
	Path      string  `json:"path"`
	Exists    bool    `json:"exists"`
	Content   string  `json:"content"`
	Truncated bool    `json:"truncated"`
	Error     *string `json:"error"`
}

type Metadata struct {
	ID           string       `json:"id"`
	Name         string       `json:"name"`
	Version      string       `json:"version"`
	Description  string       `json:"description"`
	Scope        string       `json:"scope"`
	Requirements Requirements `json:"requirements"`
}

type Requirements struct {
	Files    []string `json:"files"`
	Sysctls  []string `json:"sysctls"`
	Commands []any    `json:"commands"`
}

type Finding struct {
	Check       string   `json:"check"`
	Node        *string  `json:"node"`
	Status      string   `json:"status"`
	Message     string   `json:"message"`
	Remediation string   `json:"remediation"`
	Details     []Detail `json:"details"`
}

type Detail struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// Answer is every call's reply: Ok with the value, or Error with a message.
type Answer struct {
	Interface string  `json:"interface,omitempty"`
	Ok        any     `json:"ok"`
	Error     *string `json:"error,omitempty"`
}
