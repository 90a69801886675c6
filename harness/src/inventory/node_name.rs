//! The one rule for node names, whichever source names the node (tarmac's own list, a
//! Kubespray host in INI or YAML, this machine's hostname for a local run): a name is how
//! findings, reports, `--ignore` and the mesh's greetings refer to a node, so every source
//! is refused the same way.

/// The longest name: a DNS name's length, which is what Kubernetes allows a node's name.
const MAX_NAME_BYTES: usize = 253;

/// Why `name` cannot name a node, if it cannot.
pub fn check_node_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() || name.chars().any(char::is_whitespace) {
        return Err(format!(
            "invalid node name \"{name}\": expected a non-empty name without spaces"
        ));
    }
    if name.chars().any(|c| c.is_control() || invisible(c)) {
        return Err(format!(
            "invalid node name \"{}\": expected a name without control, invisible or text-direction characters",
            name.escape_debug()
        ));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "invalid node name \"{}…\" ({} bytes): expected at most {MAX_NAME_BYTES} bytes, as for a DNS name",
            name.chars().take(40).collect::<String>(),
            name.len()
        ));
    }
    Ok(())
}

/// Characters a terminal or a report shows as nothing, or that reorder the text around
/// them: a name holding one would read as another node's name.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}' | '\u{E0000}'..='\u{E0FFF}')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_need_text_and_no_spaces_or_controls() {
        for ok in ["cp1", "node_1", "w-2.lab", "10.0.0.1", "knoten-ü"] {
            assert_eq!(check_node_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            " ",
            "cp 1",
            "a\tb",
            "bell\u{7}",
            "w1\u{202E}1pc",
            "c\u{200B}p1",
        ] {
            assert!(check_node_name(bad).is_err(), "{bad:?} accepted");
        }
        let bidi = check_node_name("w1\u{202E}1pc").unwrap_err();
        assert!(bidi.contains(r#""w1\u{202e}1pc""#), "{bidi}");
        assert!(check_node_name(&"a".repeat(253)).is_ok());
        let long = check_node_name(&"a".repeat(254)).unwrap_err();
        assert!(long.contains("(254 bytes): expected at most 253"), "{long}");
    }
}
