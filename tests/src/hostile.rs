//! Hostile nodes: a node whose sshd runs a script of the lab's instead of the command
//! tarmac asked for (`ForceCommand` in its sshd_config), as a compromised or misbuilt
//! node can. The script is armed per run by a flag file in the node's directory
//! ([`crate::Lab::arm_hostile`]); disarmed, it runs tarmac's command as sshd would, so
//! one lab gives a healthy run to compare with and a hostile one.

use crate::command::shell_quote;

/// What a hostile node does on its SSH sessions, once armed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hostile {
    /// Runs tarmac's command, but withholds the probe's first `reach` line, and before
    /// its `probed` line adds three `reach` lines it has no business sending: one with
    /// `from` set to the node named here, one for a target it was not assigned, and its
    /// last real result once more; half a second after `probed`, that result again.
    ForgeReach { as_node: &'static str },
    /// Says `tarmac-upload ready` itself, then a valid `hello`, then `reach` lines
    /// without end.
    Flood,
    /// Says `ready` and `hello`, then half a `facts` line, then nothing until its
    /// session ends.
    StalledLine,
    /// Says `ready` and `hello`, then one line of 16 MiB.
    HugeLine,
    /// Prints a login banner without a newline before tarmac's command's output, so the
    /// node script's first line never reads as one.
    BannerWithoutNewline,
    /// Runs tarmac's command with its request rewritten to name the node given here
    /// instead of its own (`"node":"<own>"` → `"node":"<as_node>"`, in a binary-safe
    /// stream filter): its listeners answer the mesh on its own address as that node,
    /// with the only secret it has, its own.
    ClaimsToBe { as_node: &'static str },
}

/// The flag file that arms a node's script, in the node's directory.
pub(crate) const ARMED: &str = "hostile-armed";

const HELLO: &str = r#"{"type":"hello","version":1,"probe_version":"hostile"}"#;

impl Hostile {
    /// The ForceCommand script for this node (its directory on the host is `dir`).
    pub(crate) fn script(self, dir: &str, node: &str) -> String {
        let armed = shell_quote(&format!("{dir}/{ARMED}"));
        let behaviour = match self {
            Hostile::ForgeReach { as_node } => forge_reach(node, as_node),
            Hostile::Flood => format!(
                "echo 'tarmac-upload ready'\nprintf '%s\\n' '{HELLO}'\n\
                 exec yes '{{\"type\":\"reach\",\"from\":\"x\",\"to\":\"y\",\"port\":1,\"protocol\":\"tcp\",\"result\":\"ok\"}}'\n"
            ),
            Hostile::StalledLine => format!(
                "echo 'tarmac-upload ready'\nprintf '%s\\n{{\"type\":\"facts\",\"facts\":{{\"ident' '{HELLO}'\n\
                 exec cat > /dev/null\n"
            ),
            Hostile::HugeLine => format!(
                "echo 'tarmac-upload ready'\nprintf '%s\\n' '{HELLO}'\n\
                 head -c 16777216 /dev/zero | tr '\\0' x\necho\nexec cat > /dev/null\n"
            ),
            Hostile::ClaimsToBe { as_node } => claims_to_be(node, as_node),
            Hostile::BannerWithoutNewline => {
                "printf 'Welcome to a node with a chatty login shell. '\n\
                 exec sh -c \"$SSH_ORIGINAL_COMMAND\"\n"
                    .to_owned()
            }
        };
        format!(
            "#!/bin/sh\n\
             # The lab's hostile script for {node} (ForceCommand); armed by {armed}.\n\
             if [ ! -e {armed} ]; then exec sh -c \"$SSH_ORIGINAL_COMMAND\"; fi\n\
             {behaviour}"
        )
    }
}

/// tarmac's command with its output passed through but for the first `reach` line,
/// three forged `reach` lines added before `probed`.
fn forge_reach(node: &str, as_node: &str) -> String {
    let other_from = format!(
        r#"{{"type":"reach","from":"{as_node}","to":"{node}","port":6443,"protocol":"tcp","result":"ok","rtt_us":1}}"#
    );
    let unassigned = format!(
        r#"{{"type":"reach","from":"{node}","to":"nowhere","port":1,"protocol":"tcp","result":"ok","rtt_us":1}}"#
    );
    format!(
        "n=0\n\
         sh -c \"$SSH_ORIGINAL_COMMAND\" | while IFS= read -r line; do\n\
         \x20 case \"$line\" in\n\
         \x20   '{{\"type\":\"reach\",'*) n=$((n + 1)); if [ $n = 1 ]; then continue; fi; last=$line;;\n\
         \x20   '{{\"type\":\"probed\"}}') printf '%s\\n' '{other_from}' '{unassigned}' \"$last\";;\n\
         \x20 esac\n\
         \x20 printf '%s\\n' \"$line\"\n\
         \x20 case \"$line\" in '{{\"type\":\"probed\"}}') sleep 0.5; printf '%s\\n' \"$last\";; esac\n\
         done\n"
    )
}

/// tarmac's command with `"node":"<node>"` rewritten to `"node":"<as_node>"` on its way
/// in. The filter passes every other byte through as it comes (the probe's upload too:
/// a tail that could begin the pattern is held back only until more comes, or 50 ms).
fn claims_to_be(node: &str, as_node: &str) -> String {
    let filter = format!(
        r#"import os, select
old, new = b'"node":"{node}"', b'"node":"{as_node}"'
held = b""
def out(data):
    while data:
        data = data[os.write(1, data):]
while True:
    ready, _, _ = select.select([0], [], [], 0.05 if held else None)
    if not ready:
        out(held)
        held = b""
        continue
    chunk = os.read(0, 65536)
    if not chunk:
        out(held)
        break
    data = (held + chunk).replace(old, new)
    cut = len(data) if data.endswith(b"\n") else max(0, len(data) - len(old) + 1)
    out(data[:cut])
    held = data[cut:]
"#
    );
    format!(
        "filter=$(cat <<'PY'\n{filter}PY\n)\n\
         /usr/bin/python3 -c \"$filter\" | sh -c \"$SSH_ORIGINAL_COMMAND\"\n"
    )
}
