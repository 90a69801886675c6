//! Making untrusted text safe for an output: node names, messages and plugin output come
//! from machines we do not control, so they may hold bytes XML forbids or escape
//! sequences that would drive the reader's terminal.

/// Whether XML 1.0 allows `c` anywhere in a document (the `Char` production).
///
/// Rust strings cannot hold surrogates, so what remains to refuse is the C0 controls
/// other than tab, newline and carriage return, and the two non-characters U+FFFE/U+FFFF.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        || c >= '\u{10000}'
}

/// `s` without the characters XML 1.0 cannot carry, even escaped (`&#27;` is still illegal).
/// Escaping `<`, `&` and quotes is the XML writer's job, not this one's.
pub fn xml_text(s: &str) -> String {
    s.chars().filter(|&c| is_xml_char(c)).collect()
}

/// `s` made safe to sit between `<![CDATA[` and `]]>`: illegal characters dropped, and every
/// `]]>` split across two CDATA sections so a parser reads the original text back unchanged.
pub fn xml_cdata(s: &str) -> String {
    xml_text(s).replace("]]>", "]]]]><![CDATA[>")
}

/// `s` with control characters shown as escapes (`\u{1b}`) so a message cannot move the
/// cursor, recolour or retitle the reader's terminal. Newlines and tabs are kept: callers
/// that need one line use [`one_line`].
pub fn terminal_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// [`terminal_text`] on a single line: line breaks become spaces.
pub fn one_line(s: &str) -> String {
    terminal_text(&s.replace(['\r', '\n'], " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_drops_only_illegal_characters() {
        let s = "a\u{0}b\u{1b}c\u{8}d\u{FFFE}e\u{FFFF}f\tg\nh\ri\u{FFFD}j\u{1F600}k\u{85}";
        assert_eq!(xml_text(s), "abcdef\tg\nh\ri\u{FFFD}j\u{1F600}k\u{85}");
    }

    #[test]
    fn xml_cdata_splits_the_terminator() {
        assert_eq!(xml_cdata("x]]>y"), "x]]]]><![CDATA[>y");
        assert_eq!(xml_cdata("]]"), "]]");
    }

    #[test]
    fn terminal_text_escapes_controls() {
        assert_eq!(terminal_text("\u{1b}[31mred\n\tx"), "\\u{1b}[31mred\n\tx");
        assert_eq!(terminal_text("\u{9b}2J"), "\\u{9b}2J");
        assert_eq!(one_line("a\r\nb\u{7}"), "a  b\\u{7}");
    }
}
