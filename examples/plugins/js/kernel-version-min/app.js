// tarmac plugin: every node runs at least the kernel this site supports.
//
// Kubernetes features lean on the kernel: cgroup v2 needs 5.8+ to be dependable, Cilium's
// eBPF datapath wants 5.10+, and kubeadm's own preflight only warns. Sites pin a floor and
// want a node below it caught before `kubeadm join`, not after a pod misbehaves. The floor
// is the plugin's config, checked by validate-config before any run.
import { log } from 'tarmac:check/host@0.1.0';

const CHECK_ID = 'site.kernel-version-min';
// Kubernetes' documented floor for current releases (kernel.org LTS 4.19).
const DEFAULT_MIN = '4.19';
const VERSION = /^(\d{1,5})\.(\d{1,5})(?:\.(\d{1,5}))?$/;
// The numeric head of `uname -r`: `6.1.0-18-amd64` -> 6, 1, 0; `5.15.0` -> 5, 15, 0.
const RELEASE = /^(\d{1,5})\.(\d{1,5})(?:\.(\d{1,5}))?/;

export function describe() {
  return {
    id: CHECK_ID,
    name: 'Kernel at or above the site minimum',
    version: '0.1.0',
    description:
      'Every node runs a kernel release at or above the configured minimum ' +
      `(setting "min", default ${DEFAULT_MIN}), so kernel-dependent features behave the same everywhere.`,
    scope: 'node',
    requirements: { files: [], sysctls: [], commands: [] },
  };
}

export function validateConfig(config) {
  settings(config);
}

export function check(nodes, config) {
  const { min } = settings(config);
  return nodes.map((node) => judge(node, min));
}

// Parses the settings; throws (a WIT `err`) with a message naming the bad setting.
function settings(config) {
  let given;
  try {
    given = JSON.parse(config || '{}');
  } catch (e) {
    throw `config is not JSON: ${e.message}`;
  }
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw 'config must be a JSON object, e.g. {"min": "5.10"}';
  }
  for (const key of Object.keys(given)) {
    if (key !== 'min') throw `unknown setting "${key}"; known: min`;
  }
  const text = given.min ?? DEFAULT_MIN;
  const parsed = typeof text === 'string' ? text.match(VERSION) : null;
  if (!parsed) {
    throw `min must be a kernel version like "5.10" or "5.15.0", got ${JSON.stringify(text)}`;
  }
  return { min: { text, parts: numbers(parsed) } };
}

function judge(node, min) {
  const release = node.kernelRelease;
  const head = release.match(RELEASE);
  const details = [detail('expected', `>= ${min.text}`), detail('actual', release)];
  if (!head) {
    return finding(node, 'error', `kernel release "${release}" does not start with a version number`, '', details);
  }
  const actual = numbers(head);
  log('debug', `${node.name}: kernel ${actual.join('.')} vs minimum ${min.parts.join('.')}`);
  if (compare(actual, min.parts) >= 0) {
    return finding(node, 'pass', `kernel ${release} is at or above ${min.text}`, '', details);
  }
  return finding(
    node,
    'fail',
    `kernel ${release} is older than the site minimum ${min.text}`,
    `upgrade the kernel to ${min.text} or later (e.g. the distribution's HWE/backports kernel) and reboot`,
    details,
  );
}

function numbers(match) {
  return [match[1], match[2], match[3] ?? '0'].map((n) => Number.parseInt(n, 10));
}

function compare(a, b) {
  for (let i = 0; i < 3; i += 1) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return 0;
}

function detail(key, value) {
  return { key, valueJson: JSON.stringify(value) };
}

function finding(node, status, message, remediation, details) {
  return { check: CHECK_ID, node: node.name, status, message, remediation, details };
}
