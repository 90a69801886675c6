// tarmac plugin `site.{{name}}`: every node has at least 2 CPUs. Edit check() to judge
// each node; `node.factsJson` holds the complete facts document for anything else.
import { log } from 'tarmac:check/host@0.1.0';

const CHECK_ID = 'site.{{name}}';

export function describe() {
  return {
    id: CHECK_ID,
    name: '{{name}}',
    version: '0.1.0',
    description: 'Every node has at least 2 CPUs.',
    scope: 'node',
    requirements: { files: [], sysctls: [], commands: [] },
  };
}

// Throwing a string rejects the config (a WIT `err`).
export function validateConfig(config) {
  if (config.trim() !== '{}') throw `this plugin takes no settings, got ${config}`;
}

export function check(nodes, _config) {
  log('debug', `checking ${nodes.length} node(s)`);
  return nodes.map((node) => ({
    check: CHECK_ID,
    node: node.name,
    status: node.cpus >= 2 ? 'pass' : 'fail',
    message: `${node.cpus} CPUs (need at least 2)`,
    remediation: node.cpus >= 2 ? '' : 'add CPUs',
    details: [],
  }));
}
