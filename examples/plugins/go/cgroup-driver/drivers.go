// Which cgroup driver a node's container runtime and its kubelet use, read from their
// config files with the standard library only (a line scan, not a full TOML/YAML parser:
// the two keys it needs are flat `key = value` / `key: value` lines).
package main

import (
	"fmt"
	"strings"
)

const (
	ContainerdConfig = "/etc/containerd/config.toml"
	KubeletConfig    = "/var/lib/kubelet/config.yaml"
)

// Drivers is what one node's files say; an empty driver means "not configured here".
type Drivers struct {
	Runtime string // "systemd" or "cgroupfs"; "" without a containerd config
	Kubelet string // "systemd" or "cgroupfs"; "" without a kubelet config
	Problem string // why a file could not be judged
}

func readDrivers(node NodeFacts) Drivers {
	var d Drivers
	for _, f := range node.Files {
		if f.Error != nil {
			d.Problem = fmt.Sprintf("%s cannot be read: %s", f.Path, *f.Error)
			return d
		}
		if !f.Exists {
			continue
		}
		switch f.Path {
		case ContainerdConfig:
			d.Runtime = containerdDriver(f.Content)
		case KubeletConfig:
			driver, err := kubeletDriver(f.Content)
			if err != nil {
				d.Problem = err.Error()
				return d
			}
			d.Kubelet = driver
		}
	}
	return d
}

// containerdDriver: runc's `SystemdCgroup = true` means systemd; false or unset, cgroupfs.
func containerdDriver(text string) string {
	for _, line := range strings.Split(text, "\n") {
		key, value, ok := strings.Cut(stripComment(line, "#"), "=")
		if ok && strings.TrimSpace(key) == "SystemdCgroup" {
			if strings.TrimSpace(value) == "true" {
				return "systemd"
			}
			return "cgroupfs"
		}
	}
	return "cgroupfs"
}

// kubeletDriver: KubeletConfiguration's `cgroupDriver`, which defaults to cgroupfs.
func kubeletDriver(text string) (string, error) {
	for _, line := range strings.Split(text, "\n") {
		key, value, ok := strings.Cut(stripComment(line, "#"), ":")
		if ok && strings.TrimSpace(key) == "cgroupDriver" {
			driver := strings.Trim(strings.TrimSpace(value), `"'`)
			if driver != "systemd" && driver != "cgroupfs" {
				return "", fmt.Errorf("%s sets cgroupDriver %q (expected systemd or cgroupfs)", KubeletConfig, driver)
			}
			return driver, nil
		}
	}
	return "cgroupfs", nil
}

func stripComment(line, mark string) string {
	if i := strings.Index(line, mark); i >= 0 {
		return line[:i]
	}
	return line
}
