//! Letting an aarch64 lab node run aarch64 binaries on this x86_64 host: a binfmt_misc
//! entry for Debian's qemu-aarch64-static, named after the lab, so that labs of concurrent
//! tests never remove each other's entries.
//!
//! binfmt_misc entries live as long as a binfmt_misc mount does (the kernel frees them with
//! the filesystem), so the node mounts it inside its own mount namespace and registers the
//! entry there as it starts (`setup_script`): the host's mount table is never touched, and
//! the entry cannot outlive the node by more than the teardown that removes it.

use std::process::Command;

use crate::LabError;
use crate::command::run;

/// Debian's registration line for qemu-aarch64 (`:name:type:offset:magic:mask:interpreter:flags`).
const QEMU_AARCH64_CONF: &str = "/usr/lib/binfmt.d/qemu-aarch64.conf";
pub(crate) const BINFMT_DIR: &str = "/proc/sys/fs/binfmt_misc";

/// The binfmt_misc entry of lab `id`.
pub(crate) fn entry_name(id: &str) -> String {
    format!("tarmac-lab-{id}")
}

/// The line an aarch64 node of lab `id` writes to binfmt_misc's `register`.
pub(crate) fn aarch64_registration(id: &str) -> Result<String, LabError> {
    let conf = std::fs::read_to_string(QEMU_AARCH64_CONF).map_err(|e| {
        LabError::invalid(
            id,
            format!(
                "an aarch64 node needs qemu-user-static ({QEMU_AARCH64_CONF}: {e}); \
                 scripts/setup installs it"
            ),
        )
    })?;
    registration(&conf, &entry_name(id)).ok_or_else(|| {
        LabError::invalid(
            id,
            format!("{QEMU_AARCH64_CONF} holds no registration line"),
        )
    })
}

/// Removes lab `id`'s entry if there is one, through a private mount of binfmt_misc (the
/// same filesystem as the node's while that is mounted). Safe for any lab, and twice.
pub(crate) fn unregister(id: &str) -> Result<(), LabError> {
    let script = format!(
        "B={BINFMT_DIR}; \
         if [ ! -e \"$B/register\" ]; then mount -t binfmt_misc binfmt_misc \"$B\" || exit 0; fi; \
         if [ -e \"$B/$1\" ]; then echo -1 > \"$B/$1\"; fi"
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "/bin/sh", "-c"])
        .arg(script)
        .args(["sh", &entry_name(id)]);
    run(id, &mut cmd).map(drop)
}

/// Debian's line with its name field replaced by `name`.
fn registration(conf: &str, name: &str) -> Option<String> {
    let line = conf.lines().map(str::trim).find(|l| l.starts_with(':'))?;
    let rest = line.strip_prefix(':')?.split_once(':')?.1;
    Some(format!(":{name}:{rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registration_gets_the_labs_own_name() {
        let conf = "# comment\n:qemu-aarch64:M::\\x7fELF\\x02:\\xff\\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OPF\n";
        assert_eq!(
            registration(conf, "tarmac-lab-a64-1").as_deref(),
            Some(
                ":tarmac-lab-a64-1:M::\\x7fELF\\x02:\\xff\\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OPF"
            )
        );
        assert_eq!(registration("# nothing\n", "x"), None);
    }
}
