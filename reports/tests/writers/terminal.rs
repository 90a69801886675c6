//! The terminal report: order, remediation, collapsed passes, the summary line.

use tarmac_checks::Finding;
use tarmac_reports::{ReportFormat, Terminal};

use crate::fixture;

const EXPECTED: &str = "\
cp1 (198.18.0.11; control-plane, etcd)
  FAIL   swap.off: swap is on: 2.0 GiB in /swap.img
         fix: run `swapoff -a` and remove the swap line from /etc/fstab
  FAIL   hostname.valid (ignored): hostname cp1_old is not a valid DNS label
         fix: rename the host with hostnamectl
  FAIL   sysctl.ip_forward: net.ipv4.ip_forward is 0, must be 1
         fix: set net.ipv4.ip_forward = 1 in /etc/sysctl.d/k8s.conf
  WARN   time.sync: clock is 1.2 s ahead of the bastion
         fix: enable chrony or systemd-timesyncd
  PASS   2 checks

w1 (198.18.0.21; worker)
  SKIP   port.listening: pre-install: nothing listens yet
  PASS   2 checks

w2 (198.18.0.22; worker): could not be checked
  ERROR  node.reachable: ssh 198.18.0.22:22: connection refused
         fix: check that sshd runs on w2 and port 22 is open from the bastion

cluster-wide
  FAIL   reach.tcp: w1 cannot reach cp1:6443/tcp (timed out)
         fix: open 6443/tcp from workers to control-plane nodes

3 nodes, 11 checks: 4 passed, 1 warning, 4 failed, 1 error, 1 skipped (1 ignored)
";

#[test]
fn groups_by_node_worst_first_with_fixes_and_summary() {
    let text = Terminal::default().render(&fixture::sample()).unwrap();
    assert_eq!(text, EXPECTED, "got:\n{text}");
}

#[test]
fn verbose_lists_every_passing_check_after_the_problems() {
    let terminal = Terminal {
        verbose: true,
        color: false,
    };
    let text = terminal.render(&fixture::sample()).unwrap();
    let w1: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("w1 "))
        .take(4)
        .collect();
    assert_eq!(
        w1,
        [
            "w1 (198.18.0.21; worker)",
            "  SKIP   port.listening: pre-install: nothing listens yet",
            "  PASS   resources.cpu: 4 CPUs, at least 1 required",
            "  PASS   swap.off: no swap",
        ]
    );
    assert!(!text.contains("2 checks"), "no collapsed counts:\n{text}");
}

#[test]
fn summary_line_matches_the_documented_wording() {
    let mut findings = Vec::new();
    for i in 0..80 {
        findings.push(Finding::pass(&format!("c{i}"), "cp1", "ok"));
    }
    findings.push(Finding::warn("w", "cp1", "hm"));
    for i in 0..3 {
        let mut f = Finding::fail(&format!("f{i}"), "w1", "no");
        f.ignored = i < 2;
        findings.push(f);
    }
    let mut report = fixture::report_with(findings);
    report.summary.nodes = 5;
    let text = Terminal::default().render(&report).unwrap();
    assert_eq!(
        text.lines().last().unwrap(),
        "5 nodes, 84 checks: 80 passed, 1 warning, 3 failed, 0 errors (2 ignored)"
    );
}

#[test]
fn colour_only_when_asked() {
    let report = fixture::sample();
    let plain = Terminal::default().render(&report).unwrap();
    assert!(!plain.contains('\u{1b}'), "no escape codes without colour");
    let coloured = Terminal {
        color: true,
        verbose: false,
    }
    .render(&report)
    .unwrap();
    assert!(coloured.contains("\u{1b}[31mFAIL \u{1b}[0m"), "{coloured}");
    assert!(coloured.contains("\u{1b}[1mcp1 (198.18.0.11"), "{coloured}");
}

#[test]
fn a_node_cannot_drive_the_terminal() {
    let hostile = Finding::fail(
        "swap.off",
        "cp1",
        "evil \u{1b}]0;pwned\u{7}\u{1b}[2J done\nsecond line",
    )
    .with_remediation("fix\u{9b}31m it");
    let text = Terminal::default()
        .render(&fixture::report_with(vec![hostile]))
        .unwrap();
    assert!(!text.contains('\u{1b}') && !text.contains('\u{9b}') && !text.contains('\u{7}'));
    assert!(
        text.contains(
            "  FAIL   swap.off: evil \\u{1b}]0;pwned\\u{7}\\u{1b}[2J done\n         second line\n"
        ),
        "{text}"
    );
    assert!(text.contains("         fix: fix\\u{9b}31m it\n"), "{text}");
}

#[test]
fn the_mesh_causes_lead_and_a_covering_plan_says_what_it_misses() {
    let mut findings = fixture::findings();
    findings.push(
        Finding::fail(
            "mesh.blocked_inbound",
            "w1",
            "no peer reaches w1 on 179/tcp (calico BGP; 2 probes between 3 nodes, timeout)",
        )
        .with_remediation("allow 179/tcp in on w1"),
    );
    let mut report = fixture::report_with(findings);
    report.mesh = Some(fixture::mesh_summary());
    let text = Terminal::default().render(&report).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..5],
        [
            "Likely causes: 1 block the mesh's failing probes correlate into",
            "  FAIL   mesh.blocked_inbound: no peer reaches w1 on 179/tcp (calico BGP; 2 probes \
             between 3 nodes, timeout)",
            "         fix: allow 179/tcp in on w1",
            "",
            "mesh: covering plan, 32 probes over 1 group (k=3, seed 42; --mesh-seed 42 repeats \
             it): a single dropped pair between two nodes is found only by --mesh full",
        ],
        "{text}"
    );
    // The node's own block points at it rather than repeating it.
    assert!(
        text.contains(
            "w1 (198.18.0.21; worker)\n  FAIL   mesh.blocked_inbound: a likely cause, above\n"
        ),
        "{text}"
    );
}

#[test]
fn a_big_cluster_counts_its_passing_nodes_in_one_line() {
    let mut findings = Vec::new();
    let mut nodes = Vec::new();
    for i in 0..40 {
        let name = format!("w{i}");
        findings.push(Finding::pass("swap.off", &name, "no swap"));
        findings.push(Finding::pass("resources.cpu", &name, "4 CPUs"));
        nodes.push(name);
    }
    findings.push(Finding::fail("swap.off", "w7", "swap is on").with_remediation("swapoff -a"));
    let mut report = fixture::report_with(findings);
    report.nodes = nodes
        .iter()
        .map(|n| tarmac_reports::NodeReport {
            name: n.clone(),
            address: "198.18.0.9".into(),
            roles: vec![],
            status: tarmac_reports::NodeStatus::Checked,
            facts: None,
        })
        .collect();
    let text = Terminal::default().render(&report).unwrap();
    assert!(
        text.starts_with("w7 (198.18.0.9)\n  FAIL   swap.off: swap is on\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "PASS   39 more nodes passed every check (78 checks in all; --verbose lists them)\n"
        ),
        "{text}"
    );
    assert_eq!(text.lines().count(), 8, "{text}");
    let verbose = Terminal {
        verbose: true,
        color: false,
    };
    assert!(
        verbose
            .render(&report)
            .unwrap()
            .contains("w39 (198.18.0.9)\n")
    );
}
