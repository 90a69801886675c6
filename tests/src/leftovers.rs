//! What a tarmac run may have left on a lab's nodes: probe files, the probe's private
//! directory, and processes of the probe or its node-side script.

use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::{Lab, LabError};

/// Command-line fragments only tarmac's node-side script and the probe carry (the lab's own
/// processes mention `tarmac-lab`, never these).
const MARKERS: &[&str] = &["tarmac-probe", "tarmac-upload"];

/// Lists files named like the probe (or its fallback directory) where the upload script
/// may put them on the node, and every process of the probe or its script, as lines
/// `<node>: <what>`. Empty when the node is clean.
pub fn leftovers_on(lab: &Lab, node: &str) -> Result<Vec<String>, LabError> {
    // Where the upload script writes (`$HOME/.cache/tarmac`, or `/tmp/tarmac-<uid>`).
    let find = "find /root/.cache/tarmac /home/*/.cache/tarmac /tmp -maxdepth 2 \\( \
                -name '*tarmac-probe*' -o -name 'tarmac-[0-9]*' \\) -print 2>/dev/null; true";
    let mut found: Vec<String> = lab
        .exec_ok(node, find)?
        .lines()
        .map(|f| format!("{node}: file {f}"))
        .collect();
    for (pid, cmd) in lab.processes(node)? {
        if MARKERS.iter().any(|m| cmd.contains(m)) {
            found.push(format!("{node}: process {pid} {cmd}"));
        }
    }
    Ok(found)
}

/// [`leftovers_on`] every node of the lab. The node-side script ends right after the probe,
/// but the session's processes may still be going away when tarmac exits: this waits up to
/// `grace` for the nodes to become clean and returns what is still there.
pub fn leftovers(lab: &Lab, grace: Duration) -> Result<Vec<String>, LabError> {
    let deadline = Instant::now() + grace;
    loop {
        let mut found = Vec::new();
        for node in lab.nodes() {
            found.extend(leftovers_on(lab, &node.name)?);
        }
        if found.is_empty() || Instant::now() >= deadline {
            return Ok(found);
        }
        sleep(Duration::from_millis(200));
    }
}
