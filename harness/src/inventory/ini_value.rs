//! An Ansible INI value as Ansible reads it: `ast.literal_eval` of the text when that is a
//! Python literal (an integer, `True`/`False`/`None`, a quoted string, each possibly followed
//! by a `#` comment, which Python's tokenizer drops), the text itself otherwise. So in a
//! `:vars` section `port=22 # ssh` is the number 22, but `user=ops # admin` is the string
//! `ops # admin`: Ansible keeps a trailing comment that follows a bare word.

use super::ansible_vars::Scalar;

/// The value `text` (already trimmed of surrounding whitespace) stands for.
pub fn parse(text: &str) -> Scalar {
    literal(text).unwrap_or_else(|| Scalar::Text(text.to_owned()))
}

/// The literal `text` holds, when it holds exactly one (a comment may follow).
fn literal(text: &str) -> Option<Scalar> {
    let text = text.trim_start_matches([' ', '\t']);
    let (value, rest) = match text.chars().next()? {
        '\'' | '"' => quoted(text)?,
        _ => {
            let end = text.find(['#', ' ', '\t']).unwrap_or(text.len());
            let (word, rest) = text.split_at(end);
            (word_literal(word)?, rest)
        }
    };
    let rest = rest.trim_start_matches([' ', '\t']);
    (rest.is_empty() || rest.starts_with('#')).then_some(value)
}

fn word_literal(word: &str) -> Option<Scalar> {
    match word {
        "True" => return Some(Scalar::Bool(true)),
        "False" => return Some(Scalar::Bool(false)),
        "None" => return Some(Scalar::Null),
        _ => {}
    }
    let (negative, digits) = match word.as_bytes().first()? {
        b'-' => (true, &word[1..]),
        b'+' => (false, &word[1..]),
        _ => (false, word),
    };
    decimal(digits).map(|n| Scalar::Int(if negative { -n } else { n }))
}

/// A Python decimal integer: digits with single underscores between them, and no leading
/// zero unless every digit is one (`010` is a syntax error in Python 3, so a string).
fn decimal(digits: &str) -> Option<i64> {
    let bytes = digits.as_bytes();
    let well_formed = !bytes.is_empty()
        && bytes.iter().all(|b| b.is_ascii_digit() || *b == b'_')
        && bytes.first().is_some_and(u8::is_ascii_digit)
        && bytes.last().is_some_and(u8::is_ascii_digit)
        && !digits.contains("__");
    if !well_formed {
        return None;
    }
    let plain: String = digits.chars().filter(|c| *c != '_').collect();
    if plain.len() > 1 && plain.starts_with('0') && plain.bytes().any(|b| b != b'0') {
        return None;
    }
    plain.parse().ok()
}

/// A single- or double-quoted Python string with its escapes, and what follows it.
fn quoted(text: &str) -> Option<(Scalar, &str)> {
    let quote = text.chars().next()?;
    let mut out = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == quote => return Some((Scalar::Text(out), &text[i + c.len_utf8()..])),
            '\\' => {
                let (_, next) = chars.next()?;
                match next {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '0' => out.push('\0'),
                    '\\' | '\'' | '"' => out.push(next),
                    // Python keeps an unknown escape as written.
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Scalar {
        Scalar::Text(s.to_owned())
    }

    /// Each case checked against Python 3.11's `ast.literal_eval` (which Ansible calls).
    #[test]
    fn reads_values_as_python_literal_eval_does() {
        for (raw, want) in [
            ("22", Scalar::Int(22)),
            ("8080 # http", Scalar::Int(8080)),
            ("-5", Scalar::Int(-5)),
            ("1_000", Scalar::Int(1000)),
            ("00", Scalar::Int(0)),
            ("True#yes", Scalar::Bool(true)),
            ("False", Scalar::Bool(false)),
            ("None", Scalar::Null),
            ("\"x\" # c", text("x")),
            ("'03#pa33w0rd'", text("03#pa33w0rd")),
            ("'a\\'b'", text("a'b")),
            ("\"tab\\there\"", text("tab\there")),
            ("'\\d'", text("\\d")),
            ("010", text("010")),
            ("1__0", text("1__0")),
            ("true", text("true")),
            ("ubuntu # the user", text("ubuntu # the user")),
            ("10.0.0.1", text("10.0.0.1")),
            ("'open", text("'open")),
            ("'a' trailing", text("'a' trailing")),
            ("", text("")),
        ] {
            assert_eq!(parse(raw), want, "{raw:?}");
        }
    }
}
