//! The files that make one node look like its own machine: users (passwd, group, shadow,
//! sudoers.d), /etc/hosts and /etc/hostname, the fake swap view, a `uname` for a node of
//! another architecture, sshd_config, and the shell script that mounts them inside the
//! node's private mount namespace.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::command::{run_args, shell_quote};
use crate::emulation;
use crate::lab_builder::DEFAULT_DISK;
use crate::topology::{NodePlan, Topology};
use crate::{Fault, LabError};
use crate::{api_server, load_balancer, slow_disk};

/// A lab user allowed to run anything with `sudo -n` (no password).
pub const SUDO_USER: &str = "ops";
/// A lab user without sudo rights.
pub const PLAIN_USER: &str = "guest";
const SUDO_UID: u32 = 4201;
const PLAIN_UID: u32 = 4202;
/// Size of the fake swap device, in KiB as /proc/swaps and /proc/meminfo show it.
const FAKE_SWAP_KIB: u64 = 2_097_148;

/// Where one node's files live: `<lab dir>/nodes/<name>/`.
#[derive(Debug, Clone)]
pub(crate) struct NodePaths {
    pub dir: PathBuf,
}

impl NodePaths {
    pub(crate) fn new(lab_dir: &Path, node: &str) -> NodePaths {
        NodePaths {
            dir: lab_dir.join("nodes").join(node),
        }
    }
    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    pub(crate) fn host_key(&self) -> PathBuf {
        self.file("ssh_host_ed25519_key")
    }
    /// A key the node never serves, put in known_hosts for `Fault::HostKeyChanged`.
    pub(crate) fn decoy_key(&self) -> PathBuf {
        self.file("decoy_ed25519_key")
    }
    pub(crate) fn sshd_config(&self) -> PathBuf {
        self.file("sshd_config")
    }
    pub(crate) fn ready(&self) -> PathBuf {
        self.file("ready")
    }
    fn etc(&self, name: &str) -> PathBuf {
        self.dir.join("etc").join(name)
    }
    fn proc(&self, name: &str) -> PathBuf {
        self.dir.join("proc").join(name)
    }
    /// The upper layer of the node's /etc overlay: what the node writes, and the files a
    /// fault plants, live here; the host's /etc is the read-only lower layer.
    fn etc_upper(&self) -> PathBuf {
        self.dir.join("etcfs").join("upper")
    }
}

/// Writes every file the node's setup script and sshd read.
pub(crate) fn write_node_files(
    lab: &str,
    lab_dir: &Path,
    topo: &Topology,
    node: &NodePlan,
) -> Result<NodePaths, LabError> {
    let paths = NodePaths::new(lab_dir, &node.spec.name);
    for sub in [
        "etc/sudoers.d",
        "proc",
        "varlib/upper",
        "varlib/work",
        "etcfs/upper",
        "etcfs/work",
        "sbin/upper",
        "sbin/work",
    ] {
        let dir = paths.dir.join(sub);
        fs::create_dir_all(&dir).map_err(|e| LabError::io(lab, &dir, e))?;
    }
    let host_passwd = read(lab, Path::new("/etc/passwd"))?;
    let host_group = read(lab, Path::new("/etc/group"))?;
    let mut passwd = passwd_with_lab_users(&host_passwd);
    if let Some(shell) = login_shell(node) {
        passwd = with_login_shell(&passwd, shell);
    }
    write(lab, &paths.etc("passwd"), &passwd, 0o644)?;
    write(
        lab,
        &paths.etc("group"),
        &group_with_lab_groups(&host_group),
        0o644,
    )?;
    write(lab, &paths.etc("shadow"), &shadow_for(&passwd), 0o640)?;
    write(lab, &paths.etc("hosts"), &hosts_for(topo, node), 0o644)?;
    write(
        lab,
        &paths.etc("hostname"),
        &format!("{}\n", node.spec.name),
        0o644,
    )?;
    let id = format!("{}\n", machine_id(lab)?);
    write(lab, &paths.etc("machine-id"), &id, 0o444)?;
    let sudoers = format!("{SUDO_USER} ALL=(ALL:ALL) NOPASSWD: ALL\n");
    write(lab, &paths.etc("sudoers.d/tarmac-lab"), &sudoers, 0o440)?;
    if node.has(Fault::SwapOn) {
        let host_meminfo = read(lab, Path::new("/proc/meminfo"))?;
        write(lab, &paths.proc("swaps"), &fake_swaps(), 0o444)?;
        write(
            lab,
            &paths.proc("meminfo"),
            &meminfo_with_swap(&host_meminfo),
            0o444,
        )?;
    }
    if let Some(arch) = &node.spec.arch {
        write_uname(lab, &paths, arch)?;
        if arch == "aarch64" {
            let line = emulation::aarch64_registration(lab)?;
            write(
                lab,
                &paths.file("binfmt-register"),
                &format!("{line}\n"),
                0o644,
            )?;
        }
    }
    plant_fault_files(lab, &paths, node)?;
    if node.has(Fault::SlowEtcdDisk) {
        slow_disk::prepare(lab, &paths)?;
    }
    if let Some(endpoint) = &topo.endpoint {
        if load_balancer::is_load_balancer(node) {
            let haproxy = load_balancer::haproxy_config(topo);
            write(lab, &paths.file("haproxy.cfg"), &haproxy, 0o644)?;
            let keepalived = load_balancer::keepalived_config(topo, node);
            write(lab, &paths.file("keepalived.conf"), &keepalived, 0o644)?;
        }
        if endpoint.serve_api && node.has_role("control-plane") {
            api_server::make_server_cert(lab, lab_dir, &paths, endpoint, node)?;
        }
    }
    if let Some(hostile) = node.hostile() {
        let script = hostile.script(&paths.dir.to_string_lossy(), &node.spec.name);
        write(lab, &paths.file("hostile.sh"), &script, 0o755)?;
    }
    let config = sshd_config(&paths, node, &lab_dir.join("authorized_keys"));
    write(lab, &paths.sshd_config(), &config, 0o644)?;
    Ok(paths)
}

/// The script run as the node's first process (inside its netns, after `unshare --mount
/// --uts`): gives the node its hostname, private /tmp and /home, a fresh root home, /var/lib
/// (an overlay, so the host is never written), the /var/lib/docker tmpfs, and its users;
/// then waits.
pub(crate) fn setup_script(paths: &NodePaths, node: &NodePlan) -> String {
    let q = |p: PathBuf| shell_quote(&p.to_string_lossy());
    let mut s = String::from("set -eu\n");
    s += &format!("hostname {}\n", shell_quote(&node.spec.name));
    let tmp_size = if node.has(Fault::FullTmp) {
        "16k"
    } else {
        "1g"
    };
    s += &format!("mount -t tmpfs -o mode=1777,size={tmp_size} tmpfs /tmp\n");
    let noexec = if node.has(Fault::NoexecHome) {
        ",noexec"
    } else {
        ""
    };
    s += &format!("mount -t tmpfs -o mode=0755,size=256m{noexec} tmpfs /home\n");
    for (user, uid) in [(SUDO_USER, SUDO_UID), (PLAIN_USER, PLAIN_UID)] {
        s += &format!("mkdir -m 0750 /home/{user}\nchown {uid}:{uid} /home/{user}\n");
    }
    if node.has(Fault::ReadOnlyHomeAndTmp) || node.has(Fault::FullTmp) {
        s += "mount -o remount,ro /home\n";
    }
    if node.has(Fault::ReadOnlyHomeAndTmp) {
        s += "mount -o remount,ro /tmp\n";
    }
    // root's home as a fresh Debian install has it, not this machine's: every SSH session
    // runs ~/.bashrc (bash does when sshd starts it), and a developer's shell setup there
    // (pyenv, nvm...) would cost each session more than a real node's does.
    s += "mount -t tmpfs -o mode=0700,size=256m tmpfs /root\n";
    s += "for f in bashrc profile; do if [ -e /usr/share/base-files/dot.$f ]; then \
          cp /usr/share/base-files/dot.$f /root/.$f; fi; done\n";
    if login_shell(node).is_some_and(|shell| shell.ends_with("fish")) {
        // fish makes its directories in the home at the first login: a user who has
        // logged in before has them.
        let homes = [
            ("/root".to_owned(), 0),
            (format!("/home/{SUDO_USER}"), SUDO_UID),
            (format!("/home/{PLAIN_USER}"), PLAIN_UID),
        ];
        for (home, uid) in homes {
            s += &format!(
                "mkdir -p {home}/.config/fish {home}/.local/share/fish\n\
                 chown -R {uid}:{uid} {home}/.config {home}/.local\n"
            );
        }
    }
    let upper = q(paths.dir.join("varlib").join("upper"));
    let work = q(paths.dir.join("varlib").join("work"));
    s += &format!(
        "mount -t overlay overlay -o lowerdir=/var/lib,upperdir={upper},workdir={work} /var/lib\n"
    );
    s += "mkdir -p /var/lib/docker\n";
    s += &format!(
        "mount -t tmpfs -o size={},mode=0711 tmpfs /var/lib/docker\n",
        shell_quote(&node.spec.disk)
    );
    // etcd's data directory: the slow disk, or a fast one (a tmpfs) on every other etcd
    // node, so that etcd.disk_latency measures the lab and not this machine's disk.
    let etcd_volume = node.spec.volumes.iter().any(|v| v == "/var/lib/etcd");
    if node.has(Fault::SlowEtcdDisk) {
        s += &slow_disk::mount_lines(paths);
    } else if node.has_role("etcd") && !etcd_volume {
        s += &format!(
            "mkdir -p /var/lib/etcd\nmount -t tmpfs -o size={DEFAULT_DISK},mode=0700 tmpfs /var/lib/etcd\n"
        );
    }
    for path in node.spec.volumes.iter().filter(|p| *p != "/var/lib/docker") {
        s += &format!(
            "mkdir -p {path}\nmount -t tmpfs -o size={},mode=0711 tmpfs {path}\n",
            shell_quote(&node.spec.disk),
            path = shell_quote(path)
        );
    }
    // /etc is the node's own: an overlay of the host's, so a fault (or the node) may write
    // there without touching the host.
    let etc_upper = q(paths.dir.join("etcfs").join("upper"));
    let etc_work = q(paths.dir.join("etcfs").join("work"));
    s += &format!(
        "mount -t overlay overlay -o lowerdir=/etc,upperdir={etc_upper},workdir={etc_work} /etc\n"
    );
    if node.has(Fault::MissingConntrack) {
        let upper = q(paths.dir.join("sbin").join("upper"));
        let work = q(paths.dir.join("sbin").join("work"));
        // An overlay whiteout (a 0:0 character device) hides the lower file.
        s += &format!("mknod {upper}/conntrack c 0 0\n");
        s += &format!(
            "mount -t overlay overlay -o lowerdir=/usr/sbin,upperdir={upper},workdir={work} /usr/sbin\n"
        );
    }
    for file in [
        "passwd",
        "group",
        "shadow",
        "hosts",
        "hostname",
        "sudoers.d",
    ] {
        s += &format!("mount --bind {} /etc/{file}\n", q(paths.etc(file)));
    }
    // Each node is its own machine: kubeadm refuses clusters whose nodes share an id.
    s += &format!(
        "if [ -e /etc/machine-id ]; then mount --bind {} /etc/machine-id; fi\n",
        q(paths.etc("machine-id"))
    );
    // `ip netns exec` gave the node a fresh sysfs with nothing on /sys/fs/cgroup; a real
    // node has the kernel's cgroup mounts there, and the probe's cgroup fact reads them.
    s += &cgroup_mounts(&fs::read_to_string("/proc/self/mounts").unwrap_or_default());
    if node.spec.arch.is_some() {
        s += &format!("mount --bind {} /usr/bin/uname\n", q(paths.file("uname")));
    }
    if node.spec.arch.as_deref() == Some("aarch64") {
        // qemu-aarch64 for the node's aarch64 binaries, while this mount lives (emulation.rs).
        let dir = emulation::BINFMT_DIR;
        s += &format!("mount -t binfmt_misc binfmt_misc {dir}\n");
        s += &format!(
            "cat {} > {dir}/register\n",
            q(paths.file("binfmt-register"))
        );
    }
    if node.has(Fault::SwapOn) {
        for file in ["swaps", "meminfo"] {
            s += &format!("mount --bind {} /proc/{file}\n", q(paths.proc(file)));
        }
    }
    s += &format!("touch {}\n", q(paths.ready()));
    s += "exec sleep infinity\n";
    s
}

/// Files the node's faults put in its /etc (the overlay's upper layer), as they are found
/// on real machines.
fn plant_fault_files(lab: &str, paths: &NodePaths, node: &NodePlan) -> Result<(), LabError> {
    let upper = paths.etc_upper();
    let mut files: Vec<(PathBuf, &str)> = Vec::new();
    if node.has(Fault::ProxyWithoutPodCidr) {
        files.push((
            upper.join("systemd/system/containerd.service.d/http-proxy.conf"),
            "[Service]\n\
             Environment=\"HTTP_PROXY=http://proxy.lab.example:3128\"\n\
             Environment=\"HTTPS_PROXY=http://proxy.lab.example:3128\"\n\
             Environment=\"NO_PROXY=localhost,127.0.0.1,10.96.0.0/12,198.18.0.0/16,.lab.example\"\n",
        ));
    }
    if node.has(Fault::LoopbackNameserver) {
        files.push((
            upper.join("resolv.conf"),
            "# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).\n\
             # Do not edit.\n\
             nameserver 127.0.0.53\n\
             options edns0 trust-ad\n\
             search .\n",
        ));
    }
    if node.has(Fault::LeftoverManifest) {
        files.push((
            upper.join("kubernetes/manifests/kube-apiserver.yaml"),
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver\n  namespace: kube-system\n\
             spec:\n  hostNetwork: true\n  containers:\n  - name: kube-apiserver\n    \
             image: registry.k8s.io/kube-apiserver:v1.31.4\n",
        ));
    }
    if node.has(Fault::StuckOsRelease) {
        let fifo = upper.join("os-release");
        run_args(lab, "mkfifo", &["-m", "0644", &fifo.to_string_lossy()])?;
    }
    for (path, text) in files {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| LabError::io(lab, dir, e))?;
        }
        write(lab, &path, text, 0o644)?;
    }
    Ok(())
}

/// Shell lines that mount what the host has on /sys/fs/cgroup (cgroup2, or a tmpfs holding
/// v1 hierarchies), so a node reports the host kernel's cgroup version as a real one would.
/// Only the top mount is required; a v1 hierarchy that cannot be mounted again is skipped.
pub(crate) fn cgroup_mounts(host_mounts: &str) -> String {
    const ROOT: &str = "/sys/fs/cgroup";
    let mut s = String::new();
    for line in host_mounts.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [source, target, fstype, options, ..] = fields[..] else {
            continue;
        };
        let (source, fstype, options) = (
            shell_quote(source),
            shell_quote(fstype),
            shell_quote(options),
        );
        if target == ROOT {
            s += &format!("mount -t {fstype} -o {options} {source} {ROOT}\n");
        } else if target.starts_with(&format!("{ROOT}/")) {
            let target = shell_quote(target);
            s += &format!(
                "mkdir -p {target} && mount -t {fstype} -o {options} {source} {target} || :\n"
            );
        }
    }
    s
}

/// A `uname` for the node, bind-mounted over /usr/bin/uname in its mount namespace: `-m`
/// answers `arch`, everything else goes to a copy of the real one.
fn write_uname(lab: &str, paths: &NodePaths, arch: &str) -> Result<(), LabError> {
    let real = paths.file("real-uname");
    fs::copy("/usr/bin/uname", &real).map_err(|e| LabError::io(lab, &real, e))?;
    let script = format!(
        "#!/bin/sh\ncase \"$*\" in -m|--machine) echo {arch}; exit 0;; esac\nexec {} \"$@\"\n",
        shell_quote(&real.to_string_lossy())
    );
    write(lab, &paths.file("uname"), &script, 0o755)
}

fn sshd_config(paths: &NodePaths, node: &NodePlan, authorized_keys: &Path) -> String {
    let mut c = String::new();
    for port in &node.ports {
        c += &format!("ListenAddress {}\n", port.address);
    }
    c += &format!(
        "Port 22\n\
         HostKey {}\n\
         PidFile {}\n\
         AuthorizedKeysFile {}\n\
         StrictModes no\n\
         UsePAM no\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PermitRootLogin prohibit-password\n\
         AllowTcpForwarding yes\n\
         PrintMotd no\n\
         LogLevel VERBOSE\n\
         MaxStartups 100:30:200\n\
         Subsystem sftp internal-sftp\n",
        paths.host_key().display(),
        paths.file("sshd.pid").display(),
        authorized_keys.display(),
    );
    if node.hostile().is_some() {
        c += &format!("ForceCommand {}\n", paths.file("hostile.sh").display());
    }
    c
}

/// The host's users with the lab users appended (replacing any host users of the same name),
/// so system accounts such as `sshd` stay resolvable.
pub(crate) fn passwd_with_lab_users(host: &str) -> String {
    let mut out = without_users(host);
    out += &format!(
        "{SUDO_USER}:x:{SUDO_UID}:{SUDO_UID}:tarmac lab sudo user:/home/{SUDO_USER}:/bin/bash\n"
    );
    out += &format!(
        "{PLAIN_USER}:x:{PLAIN_UID}:{PLAIN_UID}:tarmac lab plain user:/home/{PLAIN_USER}:/bin/bash\n"
    );
    out
}

/// The node's `Fault::LoginShell`, if it has one.
fn login_shell(node: &NodePlan) -> Option<&'static str> {
    node.spec.faults.iter().find_map(|f| match f {
        Fault::LoginShell(shell) => Some(*shell),
        _ => None,
    })
}

/// `passwd` with `shell` as root's and the lab users' login shell.
pub(crate) fn with_login_shell(passwd: &str, shell: &str) -> String {
    passwd
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            match fields.as_slice() {
                [name, rest @ .., _] if ["root", SUDO_USER, PLAIN_USER].contains(name) => {
                    format!("{name}:{}:{shell}\n", rest.join(":"))
                }
                _ => format!("{line}\n"),
            }
        })
        .collect()
}

fn group_with_lab_groups(host: &str) -> String {
    let mut out = without_users(host);
    out += &format!("{SUDO_USER}:x:{SUDO_UID}:\n{PLAIN_USER}:x:{PLAIN_UID}:\n");
    out
}

fn without_users(host: &str) -> String {
    host.lines()
        .filter(|l| {
            let name = l.split(':').next().unwrap_or("");
            name != SUDO_USER && name != PLAIN_USER
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// A shadow file with no password for anyone (`*`: key login only) so no host secret is
/// copied into the lab.
pub(crate) fn shadow_for(passwd: &str) -> String {
    passwd
        .lines()
        .filter_map(|l| l.split(':').next())
        .filter(|name| !name.is_empty())
        .map(|name| format!("{name}:*:19000:0:99999:7:::\n"))
        .collect()
}

/// The node's own name, then every lab node so the bastion can resolve node names.
fn hosts_for(topo: &Topology, node: &NodePlan) -> String {
    let mut out = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n");
    out += &format!("{}\t{}\n", node.address(), node.spec.name);
    for other in topo.nodes.iter().filter(|n| n.spec.name != node.spec.name) {
        out += &format!("{}\t{}\n", other.address(), other.spec.name);
    }
    if let Some(endpoint) = &topo.endpoint {
        let address = load_balancer::hosts_address(topo, node);
        out += &format!("{address}\t{}\n", endpoint.name);
    }
    out
}

/// A fresh machine id: 32 lowercase hex digits, from the kernel's random UUID.
fn machine_id(lab: &str) -> Result<String, LabError> {
    let path = Path::new("/proc/sys/kernel/random/uuid");
    Ok(read(lab, path)?.trim().replace('-', ""))
}

fn fake_swaps() -> String {
    format!(
        "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
         /dev/vdb                                partition\t{FAKE_SWAP_KIB}\t\t0\t\t-2\n"
    )
}

/// The host's /proc/meminfo with a swap device's worth of SwapTotal and SwapFree.
pub(crate) fn meminfo_with_swap(host: &str) -> String {
    host.lines()
        .map(|l| {
            if l.starts_with("SwapTotal:") {
                format!("SwapTotal:      {FAKE_SWAP_KIB:>8} kB\n")
            } else if l.starts_with("SwapFree:") {
                format!("SwapFree:       {FAKE_SWAP_KIB:>8} kB\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

fn read(lab: &str, path: &Path) -> Result<String, LabError> {
    fs::read_to_string(path).map_err(|e| LabError::io(lab, path, e))
}

pub(crate) fn write(lab: &str, path: &Path, text: &str, mode: u32) -> Result<(), LabError> {
    fs::write(path, text).map_err(|e| LabError::io(lab, path, e))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| LabError::io(lab, path, e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn lab_users_replace_host_users_of_the_same_name() {
        let host = "root:x:0:0:root:/root:/bin/bash\nops:x:1000:1000::/home/ops:/bin/sh\n";
        let passwd = passwd_with_lab_users(host);
        assert_eq!(passwd.lines().filter(|l| l.starts_with("ops:")).count(), 1);
        assert!(passwd.contains("ops:x:4201:4201:"));
        assert!(passwd.contains("guest:x:4202:4202:"));
        let shadow = shadow_for(&passwd);
        assert_eq!(shadow.lines().count(), 3);
        assert!(shadow.lines().all(|l| l.split(':').nth(1) == Some("*")));
    }

    #[test]
    fn cgroup_mounts_mirror_the_host() {
        let v1 = "sysfs /sys sysfs rw 0 0\n\
                  tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0\n\
                  cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n\
                  tmpfs /tmp tmpfs rw 0 0\n";
        let script = cgroup_mounts(v1);
        assert_eq!(
            script,
            "mount -t 'tmpfs' -o 'rw,relatime,mode=755' 'tmpfs' /sys/fs/cgroup\n\
             mkdir -p '/sys/fs/cgroup/memory' && mount -t 'cgroup' -o 'rw,relatime,memory' \
             'cgroup' '/sys/fs/cgroup/memory' || :\n"
        );
        let v2 = "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0\n";
        assert_eq!(
            cgroup_mounts(v2),
            "mount -t 'cgroup2' -o 'rw,nosuid' 'cgroup2' /sys/fs/cgroup\n"
        );
        assert_eq!(cgroup_mounts("proc /proc proc rw 0 0\n"), "");
    }

    #[test]
    fn meminfo_reports_swap() {
        let host = "MemTotal:        8000000 kB\nSwapTotal:             0 kB\nSwapFree:              0 kB\n";
        let out = meminfo_with_swap(host);
        assert!(out.contains("MemTotal:        8000000 kB"));
        assert!(out.contains(&format!("SwapTotal:       {FAKE_SWAP_KIB} kB")));
        assert!(!out.contains("SwapTotal:             0 kB"));
    }
}
