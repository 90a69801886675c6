//! Linux security modules: SELinux's mode (`/sys/fs/selinux/enforce`, selinuxfs) and
//! whether AppArmor is enabled (`/sys/module/apparmor/parameters/enabled`), as k0s's
//! sysinfo and the kubeadm install docs ask.

use crate::facts::SecurityModules;

use super::read::read_optional;

pub fn gather() -> SecurityModules {
    let enforce = read_optional("/sys/fs/selinux/enforce").ok().flatten();
    let apparmor = read_optional("/sys/module/apparmor/parameters/enabled")
        .ok()
        .flatten();
    SecurityModules {
        selinux: enforce.map(|v| selinux_mode(&v).to_owned()),
        apparmor: apparmor.is_some_and(|v| v.trim().eq_ignore_ascii_case("y")),
    }
}

/// selinuxfs's `enforce`: `1` enforcing, `0` permissive.
pub fn selinux_mode(enforce: &str) -> &'static str {
    if enforce.trim() == "1" {
        "enforcing"
    } else {
        "permissive"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforce_values() {
        assert_eq!(selinux_mode("1\n"), "enforcing");
        assert_eq!(selinux_mode("0"), "permissive");
        let _ = gather();
    }
}
