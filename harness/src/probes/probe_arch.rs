//! The node architectures tarmac carries a probe for, as `uname -m` and an ELF header
//! name them.

use std::fmt;

/// A CPU architecture with an embedded probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeArch {
    X86_64,
    Aarch64,
}

impl ProbeArch {
    pub const ALL: [ProbeArch; 2] = [ProbeArch::X86_64, ProbeArch::Aarch64];

    /// The name the node script reports (`uname -m`'s canonical spelling).
    pub fn name(self) -> &'static str {
        match self {
            ProbeArch::X86_64 => "x86_64",
            ProbeArch::Aarch64 => "aarch64",
        }
    }

    /// Every `uname -m` answer that means this architecture (the BSDs' and Apple's
    /// spellings included); the node script matches them as shell `case` patterns.
    pub fn uname_names(self) -> &'static [&'static str] {
        match self {
            ProbeArch::X86_64 => &["x86_64", "amd64"],
            ProbeArch::Aarch64 => &["aarch64", "arm64"],
        }
    }

    pub fn from_name(name: &str) -> Option<ProbeArch> {
        ProbeArch::ALL
            .into_iter()
            .find(|arch| arch.uname_names().contains(&name))
    }

    /// The ELF `e_machine` of a binary for this architecture.
    pub fn elf_machine(self) -> u16 {
        match self {
            ProbeArch::X86_64 => object::elf::EM_X86_64,
            ProbeArch::Aarch64 => object::elf::EM_AARCH64,
        }
    }

    pub fn from_elf_machine(machine: u16) -> Option<ProbeArch> {
        ProbeArch::ALL
            .into_iter()
            .find(|arch| arch.elf_machine() == machine)
    }

    /// The Rust target the embedded probe is built for.
    pub fn rust_target(self) -> &'static str {
        match self {
            ProbeArch::X86_64 => "x86_64-unknown-linux-musl",
            ProbeArch::Aarch64 => "aarch64-unknown-linux-musl",
        }
    }
}

impl fmt::Display for ProbeArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uname_spellings() {
        assert_eq!(ProbeArch::from_name("amd64"), Some(ProbeArch::X86_64));
        assert_eq!(ProbeArch::from_name("arm64"), Some(ProbeArch::Aarch64));
        assert_eq!(ProbeArch::from_name("aarch64"), Some(ProbeArch::Aarch64));
        assert_eq!(ProbeArch::from_name("riscv64"), None);
        assert_eq!(ProbeArch::from_name("armv7l"), None);
    }

    #[test]
    fn elf_machines() {
        assert_eq!(ProbeArch::from_elf_machine(62), Some(ProbeArch::X86_64));
        assert_eq!(ProbeArch::from_elf_machine(183), Some(ProbeArch::Aarch64));
        assert_eq!(ProbeArch::from_elf_machine(243), None, "RISC-V");
    }
}
