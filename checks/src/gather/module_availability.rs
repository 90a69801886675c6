//! Whether the kernel can use the modules kube-proxy's IPVS mode needs. kube-proxy itself
//! asks `/proc/modules` and `modules.builtin` (pkg/proxy/ipvs/util: the same two lists);
//! `modules.dep` tells a module `modprobe` can still load from one that is not installed,
//! and a module's own `/proc` entry or `/sys/module/NAME` proves it built in where the
//! kernel ships no module lists.

use std::collections::BTreeMap;
use std::path::Path;

use crate::facts::ModuleAvailability;

use super::read::read_optional;

/// The modules asked about, each with a file that exists exactly when it is in the
/// kernel (loaded or built in), where there is one.
pub const MODULES: [(&str, Option<&str>); 5] = [
    ("ip_vs", Some("/proc/net/ip_vs")),
    ("ip_vs_rr", None),
    ("ip_vs_wrr", None),
    ("ip_vs_sh", None),
    (
        "nf_conntrack",
        Some("/proc/sys/net/netfilter/nf_conntrack_max"),
    ),
];

/// What the kernel's module lists say; `None` for a list that is not there.
#[derive(Debug, Default)]
pub struct ModuleLists<'a> {
    /// `/proc/modules` names (absent: a kernel without module support).
    pub loaded: Option<&'a [String]>,
    /// `/lib/modules/RELEASE/modules.builtin`.
    pub builtin: Option<&'a str>,
    /// `/lib/modules/RELEASE/modules.dep`.
    pub dep: Option<&'a str>,
}

pub fn gather(release: &str, loaded: Option<&[String]>) -> BTreeMap<String, ModuleAvailability> {
    let dir = format!("/lib/modules/{release}");
    let builtin = read_optional(format!("{dir}/modules.builtin"))
        .ok()
        .flatten();
    let dep = read_optional(format!("{dir}/modules.dep")).ok().flatten();
    let lists = ModuleLists {
        loaded,
        builtin: builtin.as_deref(),
        dep: dep.as_deref(),
    };
    MODULES
        .iter()
        .map(|(name, marker)| {
            let in_kernel = marker.is_some_and(|m| Path::new(m).exists())
                || Path::new(&format!("/sys/module/{name}")).is_dir();
            ((*name).to_owned(), availability(name, &lists, in_kernel))
        })
        .collect()
}

/// The verdict for `name`; `in_kernel` says its marker file or `/sys/module` entry exists.
pub fn availability(name: &str, lists: &ModuleLists<'_>, in_kernel: bool) -> ModuleAvailability {
    let name = name.replace('-', "_");
    if lists
        .loaded
        .is_some_and(|l| l.iter().any(|m| m.replace('-', "_") == name))
    {
        return ModuleAvailability::Loaded;
    }
    if lists.builtin.is_some_and(|b| lists_module(b, &name)) || in_kernel {
        return ModuleAvailability::BuiltIn;
    }
    if lists.dep.is_some_and(|d| lists_module(d, &name)) {
        return ModuleAvailability::Available;
    }
    let has_marker = MODULES
        .iter()
        .any(|(m, marker)| *m == name && marker.is_some());
    if lists.builtin.is_some() || lists.dep.is_some() || (lists.loaded.is_none() && has_marker) {
        // The kernel's lists were read (or it cannot load modules and the module's own
        // file is missing): it is not there.
        return ModuleAvailability::Absent;
    }
    ModuleAvailability::Unknown
}

/// Whether a modules.builtin / modules.dep text names module `name` (lines start with a
/// path like `kernel/net/netfilter/ipvs/ip_vs.ko.zst`, modules.dep's followed by `:`).
fn lists_module(text: &str, name: &str) -> bool {
    text.lines().any(|line| {
        let path = line.split(':').next().unwrap_or("");
        let file = path.rsplit('/').next().unwrap_or("");
        let stem = file.split(".ko").next().unwrap_or("");
        !stem.is_empty() && stem.replace('-', "_") == name
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gather::kernel::parse_proc_modules;

    fn raw(name: &str) -> String {
        let path = format!("{}/tests/fixtures/raw/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn loaded_builtin_available_and_absent_from_real_lists() {
        let loaded = parse_proc_modules(&raw("proc-modules-ipvs"));
        let builtin = raw("modules.builtin-excerpt");
        let dep = raw("modules.dep-excerpt");
        let lists = ModuleLists {
            loaded: Some(&loaded),
            builtin: Some(&builtin),
            dep: Some(&dep),
        };
        use ModuleAvailability::*;
        let got: Vec<ModuleAvailability> =
            ["ip_vs", "ip_vs_sh", "ip_vs_rr", "ip_vs_wrr", "nf_conntrack"]
                .iter()
                .map(|m| availability(m, &lists, false))
                .collect();
        assert_eq!(got, [Loaded, Loaded, Available, Available, Loaded]);
        let no_sh = ModuleLists {
            loaded: Some(&[]),
            ..lists
        };
        assert_eq!(availability("ip_vs_sh", &no_sh, false), Absent);
        assert_eq!(availability("nf_conntrack", &no_sh, false), BuiltIn);
    }

    #[test]
    fn without_module_support_only_markers_tell() {
        let none = ModuleLists::default();
        assert_eq!(
            availability("ip_vs", &none, false),
            ModuleAvailability::Absent
        );
        assert_eq!(
            availability("ip_vs", &none, true),
            ModuleAvailability::BuiltIn
        );
        assert_eq!(
            availability("ip_vs_rr", &none, false),
            ModuleAvailability::Unknown
        );
        let with = ModuleLists {
            loaded: Some(&[]),
            ..ModuleLists::default()
        };
        assert_eq!(
            availability("ip_vs_rr", &with, false),
            ModuleAvailability::Unknown
        );
    }
}
