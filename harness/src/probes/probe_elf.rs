//! What an ELF header says about a probe binary before it is sent anywhere: which node
//! architecture it runs on, and that it needs nothing from the node (no dynamic loader, no
//! shared library), because a node's libc is whatever its distribution ships.

use object::Endianness;
use object::elf::{self, FileHeader64};
use object::read::elf::{Dyn, FileHeader, ProgramHeader};

use super::probe_arch::ProbeArch;

/// Why a binary cannot be a probe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeElfError {
    #[error(
        "it is not an ELF executable (it starts with {start:?}{})",
        script_hint(start)
    )]
    NotElf { start: String },
    #[error("it is a 32-bit ELF; tarmac's probes are 64-bit (x86_64 or aarch64)")]
    Not64Bit,
    #[error("it is a big-endian ELF; tarmac's probes are little-endian (x86_64 or aarch64)")]
    BigEndian,
    #[error("it is an ELF {kind}, not an executable")]
    NotExecutable { kind: &'static str },
    #[error(
        "it is an ELF for machine {machine} ({}); tarmac has probes for x86_64 (62) and \
         aarch64 (183) nodes only",
        machine_name(*machine)
    )]
    UnsupportedMachine { machine: u16 },
    #[error(
        "it is dynamically linked ({}): it would run only on nodes whose libraries match \
         this machine's; use a static build (`cargo build -p tarmac-checks --bin tarmac-probe \
         --profile probe --target {}`)",
        dynamic_summary(interpreter.as_deref(), needed),
        arch.rust_target()
    )]
    Dynamic {
        arch: ProbeArch,
        interpreter: Option<String>,
        needed: Vec<String>,
    },
    #[error("its ELF headers are malformed: {0}")]
    Malformed(String),
}

/// The architecture `bytes` is a static executable for.
pub fn static_probe_arch(bytes: &[u8]) -> Result<ProbeArch, ProbeElfError> {
    check_ident(bytes)?;
    let malformed = |e: object::Error| ProbeElfError::Malformed(e.to_string());
    let header = FileHeader64::<Endianness>::parse(bytes).map_err(malformed)?;
    let endian = header.endian().map_err(malformed)?;
    match header.e_type(endian) {
        elf::ET_EXEC | elf::ET_DYN => {}
        elf::ET_REL => {
            return Err(ProbeElfError::NotExecutable {
                kind: "object file",
            });
        }
        elf::ET_CORE => return Err(ProbeElfError::NotExecutable { kind: "core dump" }),
        _ => return Err(ProbeElfError::NotExecutable { kind: "file" }),
    }
    let machine = header.e_machine(endian);
    let arch = ProbeArch::from_elf_machine(machine)
        .ok_or(ProbeElfError::UnsupportedMachine { machine })?;
    let mut interpreter = None;
    let mut needed_count = 0;
    for segment in header.program_headers(endian, bytes).map_err(malformed)? {
        if let Some(path) = segment.interpreter(endian, bytes).map_err(malformed)? {
            interpreter = Some(String::from_utf8_lossy(path).into_owned());
        }
        // A static-pie binary has PT_DYNAMIC (for its own relocations) but no DT_NEEDED.
        if let Some(entries) = segment.dynamic(endian, bytes).map_err(malformed)? {
            needed_count += entries
                .iter()
                .take_while(|d| d.tag(endian) != elf::DT_NULL)
                .filter(|d| d.tag(endian) == elf::DT_NEEDED)
                .count();
        }
    }
    if interpreter.is_none() && needed_count == 0 {
        return Ok(arch);
    }
    Err(ProbeElfError::Dynamic {
        arch,
        interpreter,
        needed: needed_names(header, endian, bytes),
    })
}

/// The magic, class and byte order, checked first so that each has its own message.
fn check_ident(bytes: &[u8]) -> Result<(), ProbeElfError> {
    if bytes.get(..4) != Some(&elf::ELFMAG[..]) {
        let start: String = String::from_utf8_lossy(&bytes[..bytes.len().min(16)])
            .chars()
            .take_while(|c| *c != '\n')
            .collect();
        return Err(ProbeElfError::NotElf { start });
    }
    match bytes.get(4) {
        Some(&elf::ELFCLASS64) => {}
        Some(&elf::ELFCLASS32) => return Err(ProbeElfError::Not64Bit),
        _ => return Err(ProbeElfError::Malformed("unknown ELF class".to_owned())),
    }
    match bytes.get(5) {
        Some(&elf::ELFDATA2LSB) => Ok(()),
        Some(&elf::ELFDATA2MSB) => Err(ProbeElfError::BigEndian),
        _ => Err(ProbeElfError::Malformed(
            "unknown ELF byte order".to_owned(),
        )),
    }
}

/// The shared libraries named in the dynamic section, for the message (best effort: a
/// binary without section headers still counts as dynamic, just without names).
fn needed_names(
    header: &FileHeader64<Endianness>,
    endian: Endianness,
    bytes: &[u8],
) -> Vec<String> {
    let Ok(sections) = header.sections(endian, bytes) else {
        return Vec::new();
    };
    let Ok(table) = sections.dynamic_table(endian, bytes) else {
        return Vec::new();
    };
    table
        .iter()
        .filter(|d| d.tag == elf::DT_NEEDED)
        .filter_map(|d| table.string(d).ok())
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect()
}

fn script_hint(start: &str) -> &'static str {
    if start.starts_with("#!") {
        ": a script"
    } else {
        ""
    }
}

fn machine_name(machine: u16) -> &'static str {
    match machine {
        elf::EM_386 => "i386",
        elf::EM_ARM => "32-bit ARM",
        elf::EM_PPC64 => "POWER",
        elf::EM_S390 => "s390x",
        elf::EM_RISCV => "RISC-V",
        elf::EM_LOONGARCH => "LoongArch",
        _ => "not x86_64 or aarch64",
    }
}

fn dynamic_summary(interpreter: Option<&str>, needed: &[String]) -> String {
    let mut parts = Vec::new();
    if let Some(loader) = interpreter {
        parts.push(format!("loader {loader}"));
    }
    if !needed.is_empty() {
        parts.push(format!("needs {}", needed.join(", ")));
    }
    if parts.is_empty() {
        parts.push("needs shared libraries".to_owned());
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// A minimal ELF64 header: just enough for the checks that read only the header.
    fn header(class: u8, data: u8, e_type: u16, machine: u16) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(&elf::ELFMAG);
        b[4] = class;
        b[5] = data;
        b[6] = 1;
        b[16..18].copy_from_slice(&e_type.to_le_bytes());
        b[18..20].copy_from_slice(&machine.to_le_bytes());
        b[20..24].copy_from_slice(&1u32.to_le_bytes());
        b[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        b[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        b
    }

    #[test]
    fn a_script_is_named_as_one() {
        let err = static_probe_arch(b"#!/bin/sh\necho hi\n").unwrap_err();
        assert_eq!(
            err,
            ProbeElfError::NotElf {
                start: "#!/bin/sh".into()
            }
        );
        assert!(err.to_string().contains("a script"), "{err}");
        assert!(static_probe_arch(b"").is_err());
    }

    #[test]
    fn class_byte_order_type_and_machine_are_checked() {
        let le = elf::ELFDATA2LSB;
        assert_eq!(
            static_probe_arch(&header(elf::ELFCLASS32, le, elf::ET_EXEC, elf::EM_386)),
            Err(ProbeElfError::Not64Bit)
        );
        assert_eq!(
            static_probe_arch(&header(elf::ELFCLASS64, elf::ELFDATA2MSB, 2, 183)),
            Err(ProbeElfError::BigEndian)
        );
        assert_eq!(
            static_probe_arch(&header(elf::ELFCLASS64, le, elf::ET_REL, elf::EM_X86_64)),
            Err(ProbeElfError::NotExecutable {
                kind: "object file"
            })
        );
        let riscv = static_probe_arch(&header(elf::ELFCLASS64, le, elf::ET_EXEC, elf::EM_RISCV));
        assert_eq!(
            riscv,
            Err(ProbeElfError::UnsupportedMachine {
                machine: elf::EM_RISCV
            })
        );
        assert!(riscv.unwrap_err().to_string().contains("RISC-V"));
        // No program headers at all: a static executable as far as linking goes.
        assert_eq!(
            static_probe_arch(&header(elf::ELFCLASS64, le, elf::ET_EXEC, elf::EM_AARCH64)),
            Ok(ProbeArch::Aarch64)
        );
    }

    #[test]
    fn truncated_headers_are_malformed_not_a_panic() {
        let full = header(
            elf::ELFCLASS64,
            elf::ELFDATA2LSB,
            elf::ET_EXEC,
            elf::EM_X86_64,
        );
        for len in [5, 6, 20, 63] {
            assert!(
                static_probe_arch(&full[..len]).is_err(),
                "{len} bytes accepted"
            );
        }
        // Program headers said to lie beyond the end of the file.
        let mut lying = full;
        lying[32..40].copy_from_slice(&4096u64.to_le_bytes()); // e_phoff
        lying[56..58].copy_from_slice(&3u16.to_le_bytes()); // e_phnum
        assert!(matches!(
            static_probe_arch(&lying),
            Err(ProbeElfError::Malformed(_))
        ));
    }

    /// This test binary is a glibc, dynamically linked x86_64 or aarch64 executable.
    #[test]
    fn this_test_binary_is_refused_as_dynamic() {
        let bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        match static_probe_arch(&bytes) {
            Err(ProbeElfError::Dynamic {
                interpreter,
                needed,
                ..
            }) => {
                assert!(interpreter.unwrap().contains("ld-linux"));
                assert!(
                    needed.iter().any(|n| n.starts_with("libc.so")),
                    "{needed:?}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
