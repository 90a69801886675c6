//! The inventories a lab writes are accepted by the real `tarmac` binary, run from the lab's
//! client namespace the way end-to-end tests will run it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use tarmac_tests::{Lab, SUDO_USER, lab_ready, tarmac_bin};

#[test]
fn tarmac_reads_the_lab_inventories() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::builder("ic")
        .node("cp1")
        .roles(&["control-plane", "etcd"])
        .node("w1")
        .bastion("bst")
        .node("in1")
        .roles(&["worker"])
        .behind_bastion()
        .build()
        .unwrap();
    let as_sudo_user = lab.write_inventory_as(SUDO_USER, true).unwrap();
    for inventory in [lab.inventory_path(), as_sudo_user] {
        let out = lab
            .client_command(tarmac_bin())
            .args(["ports", "-i"])
            .arg(&inventory)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "tarmac refused {}: {}",
            inventory.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let nodes: std::collections::BTreeSet<&str> = stdout
            .lines()
            .skip(1)
            // The table, up to the mesh plan below it.
            .take_while(|l| !l.is_empty() && !l.starts_with("mesh:"))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        let expected: std::collections::BTreeSet<&str> = ["cp1", "w1", "in1"].into();
        assert_eq!(
            nodes, expected,
            "the bastion is a jump host, not a node:\n{stdout}"
        );
    }
}
