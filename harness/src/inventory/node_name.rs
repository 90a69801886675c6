//! The one rule for node names, whichever format the inventory is in: a name is how
//! findings, reports and `--ignore` refer to a node, so tarmac's own list and a Kubespray
//! host are refused the same way.

/// Why `name` cannot name a node, if it cannot.
pub fn check_node_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() || name.chars().any(char::is_whitespace) {
        return Err(format!(
            "invalid node name \"{name}\": expected a non-empty name without spaces"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(format!(
            "invalid node name {name:?}: expected a name without control characters"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_need_text_and_no_spaces_or_controls() {
        for ok in ["cp1", "node_1", "w-2.lab", "10.0.0.1"] {
            assert_eq!(check_node_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", " ", "cp 1", "a\tb", "bell\u{7}"] {
            assert!(check_node_name(bad).is_err(), "{bad:?} accepted");
        }
    }
}
