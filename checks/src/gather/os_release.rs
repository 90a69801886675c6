//! `/etc/os-release`: the distribution's id, version and display name.

use crate::facts::OsRelease;

/// Parses the shell-like `KEY=value` format (values may be quoted and escaped).
pub fn parse_os_release(text: &str) -> OsRelease {
    let mut os = OsRelease::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        let value = unquote(raw.trim());
        match key.trim() {
            "ID" => os.id = Some(value),
            "VERSION_ID" => os.version_id = Some(value),
            "PRETTY_NAME" => os.pretty_name = Some(value),
            _ => {}
        }
    }
    os
}

/// os-release(5): double quotes allow `\"`, `\\`, `` \` `` and `\$` escapes; single
/// quotes are literal; unquoted values are taken as they are.
fn unquote(raw: &str) -> String {
    if let Some(inner) = raw.strip_prefix('\'') {
        return inner.strip_suffix('\'').unwrap_or(inner).to_owned();
    }
    let Some(inner) = raw.strip_prefix('"') else {
        return raw.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => match chars.next() {
                Some(next @ ('"' | '\\' | '`' | '$')) => out.push(next),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_quoting_is_removed() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
            VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nID=debian\n";
        let os = parse_os_release(text);
        assert_eq!(os.id.as_deref(), Some("debian"));
        assert_eq!(os.version_id.as_deref(), Some("12"));
        assert_eq!(
            os.pretty_name.as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
    }

    #[test]
    fn single_quotes_escapes_and_comments() {
        let text = "# a comment\nID='rocky'\nPRETTY_NAME=\"Say \\\"hi\\\" for \\$5\"\n VERSION_ID = 9.4 \n";
        let os = parse_os_release(text);
        assert_eq!(os.id.as_deref(), Some("rocky"));
        assert_eq!(os.pretty_name.as_deref(), Some("Say \"hi\" for $5"));
        assert_eq!(os.version_id.as_deref(), Some("9.4"));
    }

    #[test]
    fn garbage_yields_empty_fields_without_panicking() {
        let os = parse_os_release("\u{0}\u{1}==\n\"\nID=\"unterminated\\\nPRETTY_NAME='\n=");
        assert_eq!(os.id.as_deref(), Some("unterminated\\"));
        assert_eq!(os.pretty_name.as_deref(), Some(""));
        assert_eq!(os.version_id, None);
    }
}
