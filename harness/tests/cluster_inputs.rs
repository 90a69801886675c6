//! The inventory's cluster inputs end to end: `cni_mode` and `extra_ports` as `tarmac
//! ports` shows them, `checks.clock_skew`, and the kubeadm config and Kubespray group_vars
//! files an inventory may point at (merged, or refused with exit 2 and file:line:col).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod invocation;

use std::path::{Path, PathBuf};

use tarmac::inventory::Inventory;

use invocation::{Run, tarmac};

/// A realistic `kubeadm init --config` file: three documents, ClusterConfiguration second.
const KUBEADM: &str = "\
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
  - token: abcdef.0123456789abcdef
    ttl: 24h0m0s
localAPIEndpoint:
  advertiseAddress: 198.18.0.11
  bindPort: 6443
nodeRegistration:
  criSocket: unix:///var/run/containerd/containerd.sock
  name: cp1
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.31.2
controlPlaneEndpoint: k8s-api.lab.example:6443
networking:
  dnsDomain: cluster.local
  podSubnet: 10.32.0.0/16,fd00:10:32::/56
  serviceSubnet: 10.96.0.0/12,fd00:10:96::/112
etcd:
  local:
    dataDir: /var/lib/etcd
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
failSwapOn: true
";

/// An excerpt of Kubespray's sample `group_vars/k8s_cluster/k8s-cluster.yml`.
const GROUP_VARS: &str = "\
---
kube_config_dir: /etc/kubernetes
kube_version: v1.31.4
kube_network_plugin: calico

# Kubernetes internal network for services, unused block of space.
kube_service_addresses: 10.233.0.0/18

# internal network. When used, it will assign IP
# addresses from this range to individual pods.
kube_pods_subnet: 10.233.64.0/18
kube_network_node_prefix: 24

enable_dual_stack_networks: true
kube_service_addresses_ipv6: fd85:ee78:d8a6:8607::1000/116
kube_pods_subnet_ipv6: fd85:ee78:d8a6:8607::1:0000/112
kube_apiserver_ip: \"{{ kube_service_addresses | ansible.utils.ipaddr('net') | ansible.utils.ipaddr(1) | ansible.utils.ipaddr('address') }}\"
";

const NODES: &str = "\
nodes:
  - {name: cp1, address: 198.18.0.11, roles: [control-plane, etcd]}
  - {name: w1, address: 198.18.0.21, roles: [worker]}
";

/// A directory holding an inventory (`cluster:`/`checks:` text + NODES) and side files.
struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    fn new() -> Self {
        Dir {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn inventory(&self, sections: &str) -> PathBuf {
        self.file("inventory/lab.yaml", &format!("{sections}{NODES}"))
    }
}

fn ports(inventory: &Path) -> Run {
    tarmac(&["ports", "-i", inventory.to_str().unwrap()])
}

/// `tarmac check -i FILE` refuses the inventory with exit 2 before any node; the stderr.
fn refused(inventory: &Path) -> String {
    let run = tarmac(&["check", "-i", inventory.to_str().unwrap()]);
    assert_eq!(
        run.code, 2,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    run.stderr
}

fn rows<'a>(run: &'a Run, node: &str) -> Vec<&'a str> {
    run.stdout
        .lines()
        .filter(|l| l.starts_with(&format!("{node} ")))
        .collect()
}

fn nets(list: Option<&tarmac::inventory::CidrList>) -> Vec<String> {
    list.unwrap().0.iter().map(ToString::to_string).collect()
}

#[test]
fn calico_vxlan_mode_plans_vxlan_without_bgp_and_extra_ports_are_listed() {
    let d = Dir::new();
    let inv = d.inventory(
        "cluster:\n  cni: calico\n  cni_mode: vxlan\n  extra_ports:\n\
         \x20   - {port: 9100, protocol: tcp, component: node-exporter}\n\
         \x20   - {port: 443, protocol: tcp, component: ingress-nginx, roles: [worker], from: control-plane}\n",
    );
    let run = ports(&inv);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let w1 = rows(&run, "w1");
    let has = |rows: &[&str], port: &str, what: &str| {
        rows.iter().any(|r| r.contains(port) && r.contains(what))
    };
    assert!(has(&w1, "4789/udp", "calico VXLAN"), "{}", run.stdout);
    assert!(!has(&w1, "179/tcp", "BGP"), "{}", run.stdout);
    assert!(has(&w1, "9100/tcp", "node-exporter"));
    assert!(has(&w1, "443/tcp", "ingress-nginx"));
    assert!(
        w1.iter()
            .any(|r| r.contains("443/tcp") && r.contains("control-plane nodes"))
    );
    let cp1 = rows(&run, "cp1");
    assert!(has(&cp1, "9100/tcp", "node-exporter"));
    assert!(
        !has(&cp1, "443/tcp", "ingress-nginx"),
        "ingress is served by workers only"
    );
}

#[test]
fn cilium_geneve_plans_6081_instead_of_8472_and_calico_bgp_has_no_vxlan() {
    let d = Dir::new();
    let run = ports(&d.inventory("cluster: {cni: cilium, cni_mode: geneve}\n"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("6081/udp") && !run.stdout.contains("8472/udp"),
        "{}",
        run.stdout
    );
    let run = ports(&d.inventory("cluster: {cni: calico, cni_mode: bgp}\n"));
    assert!(
        run.stdout.contains("179/tcp") && !run.stdout.contains("4789/udp"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_mode_the_cni_does_not_have_is_refused_at_its_line() {
    let d = Dir::new();
    let inv = d.inventory("cluster:\n  cni: calico\n  cni_mode: geneve\n");
    let err = refused(&inv);
    assert!(err.contains(&format!("{}:3:3:", inv.display())), "{err}");
    assert!(
        err.contains("cni_mode geneve is not a mode of cni calico: expected vxlan, ipip, bgp"),
        "{err}"
    );
    let err = refused(&d.inventory("cluster:\n  cni_mode: tunnel\n"));
    assert!(
        err.contains(":2:13:") && err.contains("unknown variant `tunnel`"),
        "{err}"
    );
}

#[test]
fn extra_port_mistakes_are_refused_with_their_position() {
    let d = Dir::new();
    let inv = d.inventory(
        "cluster:\n  extra_ports:\n    - {port: 9100, protocol: tcp, component: x, proto: tcp}\n",
    );
    let err = refused(&inv);
    assert!(
        err.contains(":3:") && err.contains("unknown field `proto`"),
        "{err}"
    );
    let err =
        refused(&d.inventory(
            "cluster:\n  extra_ports:\n    - {port: 9100, protocol: icmp, component: x}\n",
        ));
    assert!(err.contains(":3:") && err.contains("icmp"), "{err}");
}

#[test]
fn clock_skew_thresholds_are_durations_and_warn_must_not_exceed_fail() {
    let d = Dir::new();
    let inv = d.inventory("checks:\n  clock_skew: {warn: 250ms, fail: 2s}\n");
    let loaded = Inventory::load(&inv).unwrap();
    let skew = loaded.checks.clock_skew.unwrap();
    assert_eq!((skew.warn.unwrap().0, skew.fail.unwrap().0), (250, 2_000));
    assert_eq!(ports(&inv).code, 0);
    let err = refused(&d.inventory("checks:\n  clock_skew:\n    warn: 10s\n"));
    assert!(
        err.contains(":2:3:") && err.contains("warn (10000 ms) is above fail (5000 ms)"),
        "{err}"
    );
    let err = refused(&d.inventory("checks:\n  clock_skew:\n    fail: 5h\n"));
    assert!(
        err.contains(":3:11:") && err.contains("invalid duration \"5h\""),
        "{err}"
    );
}

#[test]
fn a_kubeadm_config_beside_the_inventory_gives_both_networks() {
    let d = Dir::new();
    d.file("inventory/kubeadm.yaml", KUBEADM);
    let inv = d.inventory("cluster:\n  kubeadm_config: kubeadm.yaml\n");
    let loaded = Inventory::load(&inv).unwrap();
    assert_eq!(
        nets(loaded.cluster.pod_cidr.as_ref()),
        ["10.32.0.0/16", "fd00:10:32::/56"]
    );
    assert_eq!(
        nets(loaded.cluster.service_cidr.as_ref()),
        ["10.96.0.0/12", "fd00:10:96::/112"]
    );
    // The same value in the inventory, families in another order, agrees.
    let inv = d.inventory(
        "cluster:\n  kubeadm_config: kubeadm.yaml\n  pod_cidr: [fd00:10:32::/56, 10.32.0.0/16]\n",
    );
    assert_eq!(ports(&inv).code, 0);
}

#[test]
fn an_inventory_value_that_disagrees_with_the_kubeadm_config_is_refused_naming_both() {
    let d = Dir::new();
    let kubeadm = d.file("inventory/kubeadm.yaml", KUBEADM);
    let inv = d.inventory("cluster:\n  pod_cidr: 10.244.0.0/16\n  kubeadm_config: kubeadm.yaml\n");
    let err = refused(&inv);
    assert!(err.contains(&format!("{}:3:3:", inv.display())), "{err}");
    assert!(
        err.contains("cluster.pod_cidr in the inventory is 10.244.0.0/16"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "networking.podSubnet in kubeadm config {}:19:3 is 10.32.0.0/16,fd00:10:32::/56",
            kubeadm.display()
        )),
        "{err}"
    );
}

#[test]
fn kubeadm_config_problems_point_into_that_file() {
    let d = Dir::new();
    let inv = d.inventory("cluster:\n  kubeadm_config: kubeadm.yaml\n");
    let err = refused(&inv);
    assert!(
        err.contains("cannot read kubeadm config") && err.contains("kubeadm.yaml"),
        "{err}"
    );
    assert!(err.contains("cluster.kubeadm_config in inventory"), "{err}");
    let kubeadm = d.file(
        "inventory/kubeadm.yaml",
        &KUBEADM.replace("10.96.0.0/12", "10.96.0.1/12"),
    );
    let err = refused(&inv);
    assert!(
        err.contains(&format!("kubeadm config {}:20:", kubeadm.display())),
        "{err}"
    );
    assert!(err.contains("did you mean 10.96.0.0/12"), "{err}");
    d.file("inventory/kubeadm.yaml", "kind: InitConfiguration\n");
    assert!(refused(&inv).contains("no document has kind: ClusterConfiguration"));
}

#[test]
fn kubespray_group_vars_give_dual_stack_networks_and_must_agree_with_kubeadm() {
    let d = Dir::new();
    d.file(
        "inventory/group_vars/k8s_cluster/k8s-cluster.yml",
        GROUP_VARS,
    );
    let inv =
        d.inventory("cluster:\n  kubespray_group_vars: group_vars/k8s_cluster/k8s-cluster.yml\n");
    let loaded = Inventory::load(&inv).unwrap();
    assert_eq!(
        nets(loaded.cluster.pod_cidr.as_ref()),
        ["10.233.64.0/18", "fd85:ee78:d8a6:8607::1:0/112"]
    );
    assert_eq!(
        nets(loaded.cluster.service_cidr.as_ref()),
        ["10.233.0.0/18", "fd85:ee78:d8a6:8607::1000/116"]
    );
    d.file("inventory/kubeadm.yaml", KUBEADM);
    let both = d.inventory(
        "cluster:\n  kubeadm_config: kubeadm.yaml\n  kubespray_group_vars: group_vars/k8s_cluster/k8s-cluster.yml\n",
    );
    let err = refused(&both);
    assert!(err.contains(&format!("{}:3:3:", both.display())), "{err}");
    assert!(
        err.contains("kube_pods_subnet + kube_pods_subnet_ipv6 in Kubespray group_vars"),
        "{err}"
    );
}

#[test]
fn templated_group_vars_warn_and_the_inventory_value_is_used() {
    let d = Dir::new();
    d.file(
        "inventory/k8s-cluster.yml",
        &GROUP_VARS.replace("10.233.64.0/18", "\"{{ pods_net }}\""),
    );
    let inv = d.inventory(
        "cluster:\n  pod_cidr: 10.200.0.0/16\n  kubespray_group_vars: k8s-cluster.yml\n",
    );
    let loaded = Inventory::load(&inv).unwrap();
    assert_eq!(nets(loaded.cluster.pod_cidr.as_ref()), ["10.200.0.0/16"]);
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("kube_pods_subnet is a Jinja template")),
        "{:?}",
        loaded.warnings
    );
    let run = ports(&inv);
    assert_eq!(run.code, 0);
    assert!(
        run.stderr.contains("warning: Kubespray group_vars"),
        "{}",
        run.stderr
    );
}

const KUBESPRAY_HOSTS: &str = "\
all:
  hosts:
    node1: {ansible_host: 198.18.2.1, ip: 198.18.2.1}
    node2: {ansible_host: 198.18.2.2, ip: 198.18.2.2}
  children:
    kube_control_plane: {hosts: {node1: }}
    etcd: {hosts: {node1: }}
    kube_node: {hosts: {node2: }}
";

#[test]
fn a_kubespray_inventory_reads_the_group_vars_ansible_would_read_beside_it() {
    let d = Dir::new();
    d.file(
        "mycluster/group_vars/k8s_cluster/k8s-cluster.yml",
        GROUP_VARS,
    );
    let hosts = d.file("mycluster/hosts.yaml", KUBESPRAY_HOSTS);
    let loaded = Inventory::load(&hosts).unwrap();
    assert_eq!(
        nets(loaded.cluster.pod_cidr.as_ref()),
        ["10.233.64.0/18", "fd85:ee78:d8a6:8607::1:0/112"]
    );
    // all.vars in hosts.yaml saying otherwise is refused at its line.
    let vars = format!("{KUBESPRAY_HOSTS}  vars:\n    kube_pods_subnet: 10.10.0.0/16\n");
    let hosts = d.file("mycluster/hosts.yaml", &vars);
    let err = refused(&hosts);
    assert!(err.contains(&format!("{}:10:5:", hosts.display())), "{err}");
    assert!(
        err.contains("all.vars.kube_pods_subnet in the inventory is 10.10.0.0/16"),
        "{err}"
    );
    assert!(
        err.contains("kube_pods_subnet + kube_pods_subnet_ipv6 in Kubespray group_vars"),
        "{err}"
    );
    // Without group_vars beside it, the inventory stands alone.
    let alone = d.file("other/hosts.yaml", KUBESPRAY_HOSTS);
    assert!(Inventory::load(&alone).unwrap().cluster.pod_cidr.is_none());
}

/// docs/inventory.md shows what tarmac accepts: each of its YAML blocks, as a file, is an
/// inventory `tarmac ports` takes, and its complete example sets what its tables say.
#[test]
fn the_inventory_page_shows_inventories_tarmac_accepts() {
    let page = include_str!("../../docs/inventory.md");
    let blocks: Vec<&str> = page
        .split("```yaml\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap())
        .collect();
    assert!(blocks.len() >= 2, "the page lost its examples");
    let dir = tempfile::tempdir().unwrap();
    for (i, block) in blocks.iter().enumerate() {
        let inventory = dir.path().join(format!("inventory-{i}.yaml"));
        std::fs::write(&inventory, block).unwrap();
        let run = tarmac(&["ports", "-i", inventory.to_str().unwrap()]);
        run.code(0);
    }
    let whole = Inventory::load(&dir.path().join("inventory-0.yaml")).unwrap();
    assert_eq!(whole.nodes.len(), 3);
    assert_eq!(whole.nodes[2].ssh.sudo, Some(true));
    assert_eq!(
        whole.nodes[2].labels.get("rack").map(String::as_str),
        Some("r12")
    );
    let cluster = &whole.cluster;
    assert!(cluster.control_plane_endpoint.is_some() && cluster.kube_proxy_mode.is_some());
    assert_eq!(cluster.extra_ports.as_ref().map(Vec::len), Some(2));
    let checks = &whole.checks;
    assert!(checks.clock_skew.is_some() && checks.swap.is_some());
    assert_eq!(checks.severity.as_ref().map(|s| s.len()), Some(2));
}
