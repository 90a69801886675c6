//! OpenSSH host patterns (`*`, `?`, `!negation`), shared by known_hosts and ~/.ssh/config.

/// A list of host patterns as OpenSSH writes them: `web-* !web-test 10.0.0.?`.
///
/// A host matches when at least one positive pattern matches and no negated one does,
/// as in OpenSSH's `match_hostname`: a negation can only exclude, never include.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternList {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    negated: bool,
    /// Lower-cased: host names compare case-insensitively.
    glob: String,
}

impl PatternList {
    /// Parses patterns from an iterator of words (already split on whitespace or commas).
    pub fn new<'a>(words: impl IntoIterator<Item = &'a str>) -> PatternList {
        let patterns = words
            .into_iter()
            .filter(|w| !w.is_empty())
            .map(|w| match w.strip_prefix('!') {
                Some(rest) => Pattern {
                    negated: true,
                    glob: rest.to_ascii_lowercase(),
                },
                None => Pattern {
                    negated: false,
                    glob: w.to_ascii_lowercase(),
                },
            })
            .collect();
        PatternList { patterns }
    }

    pub fn matches(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        let mut positive = false;
        for p in &self.patterns {
            if glob_match(p.glob.as_bytes(), host.as_bytes()) {
                if p.negated {
                    return false;
                }
                positive = true;
            }
        }
        positive
    }

    /// The names of a list made only of literal, positive patterns (indexable by exact
    /// lookup); `None` when any pattern needs matching.
    pub fn literals(&self) -> Option<Vec<&str>> {
        self.patterns
            .iter()
            .map(|p| {
                let literal = !p.negated && !p.glob.contains(['*', '?']);
                literal.then_some(p.glob.as_str())
            })
            .collect()
    }
}

/// `*` matches any run of bytes (also empty), `?` exactly one byte.
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    // Iterative matcher with one backtrack point: linear in practice, no recursion to blow.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"web-*", b"web-1"));
        assert!(glob_match(b"10.0.0.?", b"10.0.0.7"));
        assert!(!glob_match(b"10.0.0.?", b"10.0.0.17"));
        assert!(glob_match(b"*.example.com", b"a.b.example.com"));
        assert!(!glob_match(b"*.example.com", b"example.com"));
        assert!(glob_match(b"a*b*c", b"aXXbYYc"));
        assert!(!glob_match(b"a*b*c", b"aXXbYY"));
        assert!(glob_match(b"exact", b"exact"));
        assert!(!glob_match(b"exact", b"exactly"));
    }

    #[test]
    fn negation_only_excludes() {
        let list = PatternList::new(["web-*", "!web-test"]);
        assert!(list.matches("web-1"));
        assert!(list.matches("WEB-2"), "host names are case-insensitive");
        assert!(!list.matches("web-test"));
        assert!(!list.matches("db-1"));
        assert!(!PatternList::new(["!db"]).matches("web"));
    }

    #[test]
    fn literals_are_indexable() {
        assert_eq!(
            PatternList::new(["a", "B"]).literals(),
            Some(vec!["a", "b"])
        );
        assert_eq!(PatternList::new(["a", "b*"]).literals(), None);
        assert_eq!(PatternList::new(["a", "!b"]).literals(), None);
    }
}
