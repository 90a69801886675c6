//! The fault matrix of untrusted nodes (issue 15): one lab whose hostile nodes' sshd runs
//! a script of the lab's instead of tarmac's command (ForceCommand). The same lab runs
//! twice, the scripts disarmed (a healthy run) and armed; each hostile node must end in
//! its one precise finding, every other node's findings and mesh cells must be those of
//! the healthy run, and tarmac's peak RSS must stay under the budget.
//!
//! - `forger` runs tarmac's probe but withholds its first result and adds `reach` lines
//!   it has no business sending (one as w1, one for a target it was not assigned, one
//!   result twice, and after its `probed` that result again): one
//!   `mesh.refused_results` error on forger counting all four, none of the lines in the
//!   matrix, and the withheld probe `untestable` there.
//! - `flood` streams `reach` lines without end: cut at the output cap.
//! - `stall` sends half a line and stops: a timeout that says so, within the node timeout.
//! - `huge` sends a 16 MiB line: refused at the line cap, before it is buffered whole.
//! - `banner` prints a login banner without a newline before tarmac's command runs: the
//!   node script's first line ends it, and the node is checked as in the healthy run.
//!
//! A second lab holds `impostor`, whose probe is told it is w1 (its request rewritten on
//! the way in): its listeners answer on its own address as w1, proven with the only
//! secret it has, its own. Every probe of it is a `wrong-peer` saying the answer names w1
//! but does not prove it; nothing between the other nodes changes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use serde_json::Value;
use tarmac_tests::{CheckRun, Fault, Hostile, Lab, lab_ready, run_check, run_check_measured};

/// Hostile nodes that never start (their pairs are untestable for everyone).
const FAILING: [&str; 3] = ["flood", "stall", "huge"];
const HOSTILE: [&str; 5] = ["forger", "flood", "stall", "huge", "banner"];

/// Harness peak RSS allowed with hostile nodes (benches/RESULTS.md measures 64 of them).
const RSS_BUDGET_KIB: u64 = 200 * 1024;

/// The same settings for both runs: a short node timeout (the stalled node waits it out)
/// and one mesh plan.
const ARGS: &[&str] = &["--node-timeout", "8", "--mesh-seed", "1"];

fn lab() -> Lab {
    let worker = |b: tarmac_tests::LabBuilder, name: &str, h: Hostile| {
        b.node(name).roles(&["worker"]).fault(Fault::Hostile(h))
    };
    let b = Lab::builder("faults")
        .node("cp1")
        .roles(&["control-plane", "etcd"])
        .node("w1")
        .roles(&["worker"]);
    let b = worker(b, "forger", Hostile::ForgeReach { as_node: "w1" });
    let b = worker(b, "flood", Hostile::Flood);
    let b = worker(b, "stall", Hostile::StalledLine);
    let b = worker(b, "huge", Hostile::HugeLine);
    let b = worker(b, "banner", Hostile::BannerWithoutNewline);
    b.build().unwrap()
}

/// A node's findings as two runs can be compared: check and status, findings about a
/// pair with a failing hostile node left out (the matrix itself is compared by
/// [`cells`]). `mesh.path_mtu` is left out too: its plan is drawn from the nodes that
/// started, so with nodes failing it pairs the others anew.
fn comparable(run: &CheckRun, node: &str) -> Vec<String> {
    let mut out: Vec<String> = run
        .findings()
        .iter()
        .filter(|f| f["node"] == node && f["check"] != "mesh.path_mtu")
        .filter(|f| !FAILING.iter().any(|h| f["details"]["to"] == *h))
        .map(|f| format!("{} {}", f["check"], f["status"]))
        .collect();
    out.sort();
    out
}

/// The matrix cells between nodes that started, as `from to port/protocol result note`.
fn cells(run: &CheckRun) -> BTreeSet<String> {
    let involves_failing = |c: &Value| FAILING.iter().any(|h| c["from"] == *h || c["to"] == *h);
    run.json["reachability"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !involves_failing(c))
        .map(|c| {
            let note = c["note"].as_str().unwrap_or("");
            format!(
                "{} {} {}/{} {} {note}",
                c["from"], c["to"], c["port"], c["protocol"], c["result"]
            )
        })
        .collect()
}

fn reachable_message(run: &CheckRun, node: &str) -> String {
    let f = run.only(Some(node), "node.reachable");
    assert_eq!(f["status"], "error", "{f:#}");
    f["message"].as_str().unwrap().to_owned()
}

#[test]
fn each_hostile_node_gets_its_own_finding_and_nothing_else_changes() {
    if !lab_ready() {
        return;
    }
    let lab = lab();
    let inventory = lab.inventory_path();
    let healthy = run_check(&lab, &inventory, ARGS).unwrap();
    assert!(
        healthy.of_check("node.reachable").is_empty(),
        "disarmed, every node is healthy: {}",
        healthy.transcript()
    );
    assert!(healthy.of_check("mesh.refused_results").is_empty());
    for node in HOSTILE {
        lab.arm_hostile(node, true).unwrap();
    }
    let hostile = run_check_measured(&lab, &inventory, ARGS).unwrap();
    let transcript = hostile.transcript();

    // forger: one finding, counting all three lines and quoting them.
    let refused = hostile.only(Some("forger"), "mesh.refused_results");
    assert_eq!(refused["status"], "error", "{refused:#}");
    // The fourth came after its `probed`, while closing: counted too.
    assert_eq!(refused["details"]["refused"], 4, "{refused:#}");
    let examples = refused["details"]["examples"].to_string();
    for said in ["`from` is \\\"w1\\\"", "\\\"nowhere\\\"", "reported twice"] {
        assert!(examples.contains(said), "{said} in {examples}");
    }
    assert_eq!(
        hostile.of_check("mesh.refused_results").len(),
        1,
        "{transcript}"
    );

    // The nodes that never start, each with what it did.
    let flood = reachable_message(&hostile, "flood");
    assert!(
        flood.contains("the probe wrote more than 16 MiB"),
        "{flood}"
    );
    let stall = reachable_message(&hostile, "stall");
    assert!(
        stall.contains("timed out after") && stall.contains("in the middle of a line"),
        "{stall}"
    );
    assert!(stall.contains("{\\\"type\\\":\\\"facts\\\""), "{stall}");
    let huge = reachable_message(&hostile, "huge");
    assert!(huge.contains("a line longer than 2 MiB"), "{huge}");

    // The matrix as in the healthy run, but for forger's withheld probe: untestable.
    let (now, before) = (cells(&hostile), cells(&healthy));
    let gone: Vec<&String> = before.difference(&now).collect();
    let new: Vec<&String> = now.difference(&before).collect();
    assert_eq!((gone.len(), new.len()), (1, 1), "{gone:?} {new:?}");
    let withheld = gone[0]
        .strip_suffix(" \"ok\" ")
        .expect("it answered ok before");
    assert!(withheld.starts_with("\"forger\" "), "{withheld}");
    assert_eq!(
        new[0],
        &format!(
            "{withheld} \"untestable\" forger was assigned this probe but never reported its result"
        )
    );

    // Everyone else as in the healthy run (banner's banner is ended by the node script's
    // first line); forger too, but for its refused results and the skip of its withheld
    // probe.
    for node in ["cp1", "w1", "forger", "banner"] {
        let mut now = comparable(&hostile, node);
        if node == "forger" {
            let refused = now
                .iter()
                .position(|f| f.starts_with("\"mesh.refused_results\""));
            now.remove(refused.expect("forger's finding"));
            let skip = now.iter().position(|f| f == "\"mesh.reachable\" \"skip\"");
            now.remove(skip.expect("the withheld probe's skip"));
        }
        assert_eq!(now, comparable(&healthy, node), "{node}: {transcript}");
    }

    let peak = hostile.peak_rss_kib.expect("measured");
    assert!(peak < RSS_BUDGET_KIB, "peak RSS {peak} KiB");
    eprintln!("tarmac's peak RSS with five hostile nodes: {peak} KiB");
}

/// What a probe of a hostile node must be: a `wrong-peer` with this note.
fn expected_note(c: &Value, impostor: &str, relay: &str) -> String {
    let from = c["from"].as_str().unwrap();
    let (to, address) = match c["to"].as_str().unwrap() {
        "impostor" => ("impostor", impostor),
        _ => ("relay", relay),
    };
    let unproven = |saw: &str| {
        format!(
            "the answer at {address} names w1 but does not prove it: expected {to}'s proof \
             for this probe, saw {saw}; another host answers on that address, a proxy is in \
             between, or a node forges another's answer (check which host holds {address})"
        )
    };
    match (to, from) {
        // w1 probes no w1: it holds no key to check w1's proof with.
        (_, "w1") => unproven("a proof this node cannot check (it holds no key for w1)"),
        ("impostor", _) => unproven(&format!(
            "a proof that does not check (expected w1's proof for {from} and this probe's nonce)"
        )),
        // The relay passes the prober's hello to w1 and w1's answer back: proven, but
        // w1 saw the relay's address.
        _ => format!(
            "w1's listener answered, but it saw the probe come from {relay}, not from this \
             node's {}: a relay, a proxy or NAT is between them (check that {address} is \
             relay's own address, with no proxy or NAT between the nodes)",
            c["from_address"].as_str().unwrap_or(from)
        ),
    }
}

/// Two nodes that answer the mesh on their own address as w1, each its own way:
/// - `impostor`'s probe is told it is w1 (its request rewritten on the way in): its
///   listeners answer as w1, proven with the only secret it has, its own; its own
///   results ("from w1") are refused into its one finding;
/// - `relay` forwards every mesh port to w1 (DNAT and masquerade in its network): the
///   replay that stays possible, each prober's hello passed to w1's listener and w1's
///   answer passed back.
///
/// Every probe of either is a `wrong-peer` whose note says what was expected and seen;
/// every pair between the other nodes is as in the healthy run.
#[test]
fn nodes_answering_as_another_are_named_on_every_pair_to_them() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::builder("faults-claims")
        .node("cp1")
        .roles(&["control-plane", "etcd"])
        .node("w1")
        .roles(&["worker"])
        .node("impostor")
        .roles(&["worker"])
        .fault(Fault::Hostile(Hostile::ClaimsToBe { as_node: "w1" }))
        .node("relay")
        .roles(&["worker"])
        .build()
        .unwrap();
    let inventory = lab.inventory_path();
    let healthy = run_check(&lab, &inventory, ARGS).unwrap();
    assert!(
        healthy.of_check("mesh.refused_results").is_empty(),
        "{}",
        healthy.transcript()
    );
    lab.arm_hostile("impostor", true).unwrap();
    let w1 = lab.address("w1").unwrap();
    lab.exec_ok(
        "relay",
        &format!(
            "sysctl -qw net.ipv4.ip_forward=1 && \
             iptables -t nat -A PREROUTING -p tcp ! --dport 22 -j DNAT --to-destination {w1} && \
             iptables -t nat -A PREROUTING -p udp -j DNAT --to-destination {w1} && \
             iptables -t nat -A POSTROUTING -d {w1} -j MASQUERADE"
        ),
    )
    .unwrap();
    let hostile = run_check(&lab, &inventory, ARGS).unwrap();
    let transcript = hostile.transcript();
    let (impostor, relay) = (
        lab.address("impostor").unwrap().to_string(),
        lab.address("relay").unwrap().to_string(),
    );
    let address_of = |node: &str| lab.address(node).unwrap().to_string();

    // Every probe of impostor or relay: named, with what was expected and what was seen.
    let cells = hostile.json["reachability"].as_array().unwrap();
    let hostile_node = |c: &Value| c["to"] == "impostor" || c["to"] == "relay";
    let probed: Vec<&Value> = cells
        .iter()
        .filter(|c| hostile_node(c) && c["result"] != "untestable")
        .collect();
    for to in ["impostor", "relay"] {
        assert!(probed.iter().any(|c| c["to"] == to), "{to}: {transcript}");
    }
    for c in &probed {
        let mut c = (*c).clone();
        let from = c["from"].as_str().unwrap().to_owned();
        c["from_address"] = address_of(&from).into();
        assert_eq!(c["result"], "wrong-peer", "{c:#}");
        assert_eq!(
            c["note"].as_str().unwrap(),
            expected_note(&c, &impostor, &relay),
            "{c:#}"
        );
    }
    // The findings say it on the pairs, each owned by its prober.
    for f in hostile.of_check("mesh.reachable") {
        if f["status"] == "fail" {
            let to = &f["details"]["to"];
            assert!(to == "impostor" || to == "relay", "{f:#}");
            let message = f["message"].as_str().unwrap();
            assert!(message.contains("wrong-peer"), "{f:#}");
            assert!(
                message.contains(f["details"]["note"].as_str().unwrap()),
                "{f:#}"
            );
        }
    }
    // impostor's own results come "from w1": refused, its one finding; relay has none.
    let refused = hostile.only(Some("impostor"), "mesh.refused_results");
    assert_eq!(refused["status"], "error", "{refused:#}");
    assert!(
        refused["details"]["examples"]
            .to_string()
            .contains("`from` is \\\"w1\\\""),
        "{refused:#}"
    );
    assert_eq!(hostile.of_check("mesh.refused_results").len(), 1);
    // What every probe of each saw is one cause on it, which blames no firewall.
    for node in ["impostor", "relay"] {
        let cause = hostile.only(Some(node), "mesh.blocked_inbound");
        let message = cause["message"].as_str().unwrap();
        assert!(
            message.contains(&format!(
                "got an answer that is not {node}'s own listener's"
            )),
            "{cause:#}"
        );
        assert!(
            cause["remediation"]
                .as_str()
                .unwrap()
                .contains("which host answers"),
            "{cause:#}"
        );
    }

    // Every pair between cp1, w1 and relay but those to relay as in the healthy run.
    let between_others = |run: &CheckRun| -> BTreeSet<String> {
        run.json["reachability"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| !hostile_node(c) && c["from"] != "impostor")
            .map(|c| {
                format!(
                    "{} {} {}/{} {} {}",
                    c["from"], c["to"], c["port"], c["protocol"], c["result"], c["note"]
                )
            })
            .collect()
    };
    assert_eq!(
        between_others(&hostile),
        between_others(&healthy),
        "{transcript}"
    );
    for node in ["cp1", "w1", "relay"] {
        let others = |run: &CheckRun| -> Vec<String> {
            let mut out: Vec<String> = run
                .findings()
                .iter()
                .filter(|f| f["node"] == node && f["check"] != "mesh.path_mtu")
                .filter(|f| f["details"]["to"] != "impostor" && f["details"]["to"] != "relay")
                .map(|f| format!("{} {}", f["check"], f["status"]))
                .collect();
            out.sort();
            out
        };
        // A prober's summary `pass` gives way to its failures about the two, nothing else.
        let mut before = others(&healthy);
        let summary = before
            .iter()
            .position(|f| f == "\"mesh.reachable\" \"pass\"");
        before.remove(summary.expect("the healthy run's summary"));
        let mut now = others(&hostile);
        if node == "relay" {
            let cause = now
                .iter()
                .position(|f| f == "\"mesh.blocked_inbound\" \"fail\"");
            now.remove(cause.expect("relay's cause, asserted above"));
        }
        let gone: Vec<&String> = before.iter().filter(|f| !now.contains(f)).collect();
        let new: Vec<&String> = now.iter().filter(|f| !before.contains(f)).collect();
        assert_eq!(
            now, before,
            "{node}: gone {gone:?}, new {new:?}: {transcript}"
        );
    }
}
