//! Splits an INI host line the way Ansible does (`shlex.split(line, comments=True)`, POSIX
//! rules): words separated by blanks, `'...'` and `"..."` quoting (concatenated with what
//! touches them), backslash escapes, and an unquoted `#` ending the line even inside a
//! word. Each word keeps the column it starts at, for error messages.

/// One word of the line and the 0-based char column where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub column: usize,
}

/// The words of `line`, or why it cannot be split (an unclosed quote, a trailing `\`)
/// with the column of the culprit.
pub fn split(line: &str) -> Result<Vec<Word>, (usize, String)> {
    let mut words = Vec::new();
    let mut chars = line.chars().enumerate().peekable();
    let mut current: Option<Word> = None;
    while let Some((col, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => words.extend(current.take()),
            '#' => break,
            '\'' | '"' => {
                let word = current.get_or_insert_with(|| Word {
                    text: String::new(),
                    column: col,
                });
                loop {
                    match chars.next() {
                        None => {
                            return Err((col, format!("no closing quotation for the {c} here")));
                        }
                        Some((_, q)) if q == c => break,
                        // Inside double quotes a backslash escapes only `"` and `\`.
                        Some((_, '\\')) if c == '"' => match chars.peek() {
                            Some((_, n @ ('"' | '\\'))) => {
                                word.text.push(*n);
                                chars.next();
                            }
                            _ => word.text.push('\\'),
                        },
                        Some((_, q)) => word.text.push(q),
                    }
                }
            }
            '\\' => {
                let (_, escaped) = chars.next().ok_or((
                    col,
                    "a backslash ends the line: nothing to escape".to_owned(),
                ))?;
                current
                    .get_or_insert_with(|| Word {
                        text: String::new(),
                        column: col,
                    })
                    .text
                    .push(escaped);
            }
            c => current
                .get_or_insert_with(|| Word {
                    text: String::new(),
                    column: col,
                })
                .text
                .push(c),
        }
    }
    words.extend(current);
    Ok(words)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn texts(line: &str) -> Vec<String> {
        split(line).unwrap().into_iter().map(|w| w.text).collect()
    }

    /// Each case checked against Python 3.11's `shlex.split(line, comments=True)`.
    #[test]
    fn splits_as_shlex_does() {
        assert_eq!(texts("a=b#c d"), ["a=b"]);
        assert_eq!(
            texts("n1 x=\"a b\" y='c#d' z=e\\ f # tail"),
            ["n1", "x=a b", "y=c#d", "z=e f"]
        );
        assert_eq!(texts(r#"n1 x="a\"b\n""#), ["n1", r#"x=a"b\n"#]);
        assert_eq!(
            texts("node1 ansible_host=95.54.0.12  # ip=10.3.0.1"),
            ["node1", "ansible_host=95.54.0.12"]
        );
        assert_eq!(
            texts("  n2\tansible_port=22 ;x"),
            ["n2", "ansible_port=22", ";x"]
        );
        assert_eq!(texts("e=''"), ["e="]);
    }

    #[test]
    fn words_know_their_columns_and_errors_theirs() {
        let words = split("  n1  a='x y'").unwrap();
        assert_eq!((words[0].column, words[1].column), (2, 6));
        assert_eq!(split("n1 a='open").unwrap_err().0, 5);
        assert!(split("n1 a=\\").unwrap_err().1.contains("backslash"));
    }
}
