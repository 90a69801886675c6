//! How large a document of each kind may be: its bytes as read, and the values and text
//! it holds once YAML aliases are expanded.

/// The limits for one kind of document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentLimits {
    /// The kind, as messages name it: "an inventory file".
    pub what: &'static str,
    /// Bytes of the document as read.
    pub max_bytes: u64,
    /// Values (scalars, sequences, mappings) once aliases are expanded.
    pub max_values: u64,
    /// Bytes of scalar text once aliases are expanded.
    pub max_expanded_bytes: u64,
}

const MIB: u64 = 1 << 20;

impl DocumentLimits {
    /// Inventories in every format, the group_vars/ and host_vars/ files beside them, and
    /// the kubeadm and Kubespray files they name. A 10,000-node Kubespray hosts.yaml is
    /// about 1.4 MiB and 120,000 values. The YAML parser keeps every event of a document
    /// (some 130 bytes each, and a byte or two of text can be an event), so the size limit
    /// is what bounds a hostile file's cost: measured, a 2 MiB flow list of zeros peaks at
    /// 170 MB; the 44 KB alias bomb stops at the value limit at under 40 MB.
    pub const INVENTORY: DocumentLimits = DocumentLimits {
        what: "an inventory file",
        max_bytes: 2 * MIB,
        max_values: 250_000,
        max_expanded_bytes: 16 * MIB,
    };

    /// A JSON report read back (`tarmac audit --baseline`, saved facts): a 1,000-node
    /// full-mesh report is hundreds of MB, so this is the largest limit. JSON has no
    /// aliases and its parser keeps no events, so a report costs what its values do.
    pub const REPORT: DocumentLimits = DocumentLimits {
        what: "a tarmac report",
        max_bytes: 512 * MIB,
        max_values: 32_000_000,
        max_expanded_bytes: 512 * MIB,
    };

    /// A plugin's test cases (`tarmac plugin test`) or `--config` JSON.
    pub const PLUGIN_CASES: DocumentLimits = DocumentLimits {
        what: "a plugin test case file",
        max_bytes: 4 * MIB,
        max_values: 500_000,
        max_expanded_bytes: 32 * MIB,
    };

    /// What a plugin hands back: a WASI command plugin's answer on stdout (at most 16 MiB,
    /// the pipe's capacity). 1000 findings with all their details are some 100,000 values,
    /// and an answer of 100,000 findings must still be refused as too many findings; the
    /// four million values of 8 MB of `,0` would cost the host hundreds of MB.
    pub const PLUGIN_ANSWER: DocumentLimits = DocumentLimits {
        what: "a plugin's answer",
        max_bytes: 16 * MIB,
        max_values: 1_000_000,
        max_expanded_bytes: 16 * MIB,
    };

    /// Small settings files tarmac reads on the operator's behalf (a registry manifest, the
    /// container registries' auth file).
    pub const SETTINGS: DocumentLimits = DocumentLimits {
        what: "a settings file",
        max_bytes: MIB,
        max_values: 50_000,
        max_expanded_bytes: MIB,
    };

    /// The same limits for another kind of document with its own name.
    pub const fn named(self, what: &'static str) -> DocumentLimits {
        DocumentLimits { what, ..self }
    }
}

/// `bytes` as people read sizes: "8 MiB", "1536 bytes".
pub(crate) fn show_bytes(bytes: u64) -> String {
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}
