//! A host pattern as Ansible's inventory plugins expand it: `node[01:20]` (numbers, zero
//! padded when the first bound is), `db-[a:f]` (letters), an optional stride
//! (`node[1:9:2]`), several ranges in one name, and a `:port` after the name.

/// At most this many hosts come out of one pattern: a typo like `node[1:99999999]` is
/// refused instead of filling memory.
pub const MAX_HOSTS: usize = 100_000;

/// The names a pattern stands for, and the port written after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    pub names: Vec<String>,
    pub port: Option<u16>,
}

/// What is wrong with a pattern, and the byte offset in it where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pub offset: usize,
    pub message: String,
}

fn error(offset: usize, message: String) -> PatternError {
    PatternError { offset, message }
}

/// Expands `pattern` (one inventory token: a name, IP, or range, with an optional port).
pub fn expand(pattern: &str) -> Result<HostPattern, PatternError> {
    let (host, port) = split_port(pattern)?;
    // The offset of `host` in `pattern`: 1 after the `[` of `[host]:port`.
    let base = usize::from(host.len() < pattern.len() && pattern.starts_with('['));
    if host.is_empty() {
        return Err(error(
            0,
            format!("invalid host pattern \"{pattern}\": no host name"),
        ));
    }
    let parts = parts(host, base)?;
    let count = parts.iter().try_fold(1usize, |n, p| match p {
        Part::Text(_) => Some(n),
        Part::Range(items) => n.checked_mul(items.len()).filter(|n| *n <= MAX_HOSTS),
    });
    if count.is_none() {
        return Err(error(
            base,
            format!("host pattern \"{pattern}\" gives more than {MAX_HOSTS} hosts"),
        ));
    }
    let mut names = vec![String::new()];
    for part in &parts {
        names = match part {
            Part::Text(t) => names.into_iter().map(|n| n + t).collect(),
            // The first range varies slowest, as Ansible expands it first.
            Part::Range(items) => names
                .iter()
                .flat_map(|n| items.iter().map(move |i| format!("{n}{i}")))
                .collect(),
        };
    }
    Ok(HostPattern { names, port })
}

/// A piece of a host name: text as written, or the items of one `[..]` range.
enum Part<'a> {
    Text(&'a str),
    Range(Vec<String>),
}

/// Splits `host` (at `base` in the pattern) into text and ranges, checking every range.
fn parts(host: &str, base: usize) -> Result<Vec<Part<'_>>, PatternError> {
    let mut parts = Vec::new();
    let mut rest = host;
    let mut at = base;
    loop {
        let open = rest.find('[');
        let close = rest.find(']');
        match (open, close) {
            (None, None) => break,
            (Some(o), Some(c)) if o < c => {
                let range = &rest[o + 1..c];
                if range.contains('[') {
                    return Err(error(
                        at + o,
                        format!("host range [{range}] has no closing ']'"),
                    ));
                }
                let items = range_items(range)
                    .map_err(|m| error(at + o, format!("host range [{range}]: {m}")))?;
                parts.push(Part::Text(&rest[..o]));
                parts.push(Part::Range(items));
                at += c + 1;
                rest = &rest[c + 1..];
            }
            (Some(o), None) => {
                return Err(error(
                    at + o,
                    format!("host range in \"{host}\" has no closing ']'"),
                ));
            }
            (_, Some(c)) => {
                return Err(error(
                    at + c,
                    format!("unmatched ']' in host pattern \"{host}\""),
                ));
            }
        }
    }
    parts.push(Part::Text(rest));
    Ok(parts)
}

/// `host:22` and `[v6 or pattern]:22` carry a port; a bare IPv6 address does not.
fn split_port(pattern: &str) -> Result<(&str, Option<u16>), PatternError> {
    let bad_port = |at: usize, p: &str| {
        error(
            at,
            format!("invalid port \"{p}\" in host pattern \"{pattern}\": expected 1 to 65535"),
        )
    };
    if let Some(inner) = pattern.strip_prefix('[')
        && let Some((host, port)) = inner.rsplit_once("]:")
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
        && !host.contains(']')
    {
        let at = pattern.len() - port.len();
        let port = port
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| bad_port(at, port))?;
        return Ok((host, Some(port)));
    }
    let colons: Vec<usize> = outside_brackets(pattern)
        .filter(|(_, c)| *c == ':')
        .map(|(i, _)| i)
        .collect();
    match colons.as_slice() {
        [i] if *i + 1 == pattern.len() => Err(error(
            *i,
            format!(
                "invalid host pattern \"{pattern}\": it ends in ':', which Ansible reserves for a port"
            ),
        )),
        [i] => {
            let port = &pattern[i + 1..];
            let parsed = port.parse().ok().filter(|p| *p > 0);
            Ok((
                &pattern[..*i],
                Some(parsed.ok_or_else(|| bad_port(i + 1, port))?),
            ))
        }
        _ => Ok((pattern, None)),
    }
}

/// The characters of `s` with their offsets, leaving out those inside `[...]`.
fn outside_brackets(s: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    let mut depth = 0usize;
    s.char_indices().filter(move |(_, c)| match c {
        '[' => {
            depth += 1;
            false
        }
        ']' => {
            depth = depth.saturating_sub(1);
            false
        }
        _ => depth == 0,
    })
}

/// The items of `begin:end[:step]`, in order.
fn range_items(range: &str) -> Result<Vec<String>, String> {
    let bounds: Vec<&str> = range.split(':').collect();
    let (begin, end, step) = match bounds.as_slice() {
        [b, e] => (*b, *e, "1"),
        [b, e, s] => (*b, *e, *s),
        _ => return Err("expected begin:end or begin:end:step".to_owned()),
    };
    let begin = if begin.is_empty() { "0" } else { begin };
    if end.is_empty() {
        return Err("no end value".to_owned());
    }
    let step: usize = step
        .parse()
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| format!("step \"{step}\" is not a positive number"))?;
    if let (Some(b), Some(e)) = (letter(begin), letter(end)) {
        if b > e {
            return Err(format!("begin {begin} comes after end {end}"));
        }
        return Ok((b..=e)
            .step_by(step)
            .map(|i| LETTERS[i..=i].to_owned())
            .collect());
    }
    let number = |s: &str| {
        s.parse::<u64>()
            .map_err(|_| format!("\"{s}\" is not a number or a single letter"))
    };
    let (b, e) = (number(begin)?, number(end)?);
    let width = if begin.len() > 1 && begin.starts_with('0') {
        if begin.len() != end.len() {
            return Err(format!(
                "{begin} and {end} have different widths; a zero-padded range needs both bounds written alike"
            ));
        }
        begin.len()
    } else {
        0
    };
    if b > e {
        return Err(format!(
            "begin {begin} is above end {end}, so the range is empty"
        ));
    }
    if (e - b) / step as u64 >= MAX_HOSTS as u64 {
        return Err(format!("more than {MAX_HOSTS} hosts"));
    }
    Ok((b..=e)
        .step_by(step)
        .map(|n| format!("{n:0width$}"))
        .collect())
}

/// Python's `string.ascii_letters`, the order letter ranges follow.
const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn letter(s: &str) -> Option<usize> {
    (s.len() == 1).then(|| LETTERS.find(s)).flatten()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn names(p: &str) -> Vec<String> {
        expand(p).unwrap().names
    }

    #[test]
    fn numeric_ranges_keep_their_padding_and_stride() {
        assert_eq!(names("node[01:03]"), ["node01", "node02", "node03"]);
        assert_eq!(names("n[8:10].lab"), ["n8.lab", "n9.lab", "n10.lab"]);
        assert_eq!(names("n[1:9:4]"), ["n1", "n5", "n9"]);
        assert_eq!(names("n[:2]"), ["n0", "n1", "n2"]);
        assert_eq!(names("r[1:2]-n[a:b]"), ["r1-na", "r1-nb", "r2-na", "r2-nb"]);
        assert_eq!(names("db-[y:B]"), ["db-y", "db-z", "db-A", "db-B"]);
        assert_eq!(names("cp1"), ["cp1"]);
    }

    #[test]
    fn ports_follow_names_and_bracketed_addresses() {
        assert_eq!(expand("cp1:2222").unwrap().port, Some(2222));
        let v6 = expand("[fd00::1]:22").unwrap();
        assert_eq!((v6.names, v6.port), (vec!["fd00::1".to_owned()], Some(22)));
        let bare = expand("fd00::1").unwrap();
        assert_eq!((bare.names, bare.port), (vec!["fd00::1".to_owned()], None));
        let both = expand("node[1:2]:2200").unwrap();
        assert_eq!((both.names.len(), both.port), (2, Some(2200)));
    }

    #[test]
    fn malformed_patterns_say_what_and_where() {
        for (pattern, offset, says) in [
            ("node[01:2]", 4, "different widths"),
            ("node[1]", 4, "expected begin:end"),
            ("node[1:2:3:4]", 4, "expected begin:end"),
            ("node[1:]", 4, "no end value"),
            ("node[x1:3]", 4, "not a number"),
            ("node[5:1]", 4, "range is empty"),
            ("node[c:a]", 4, "comes after"),
            ("node[1:4:0]", 4, "not a positive number"),
            ("node[1:3", 4, "no closing"),
            ("a[1:2]b]", 7, "unmatched"),
            ("node:", 4, "ends in ':'"),
            ("node:99999", 5, "invalid port"),
            ("n[0:999999999]", 1, "more than"),
            ("n[1:400][1:400]", 0, "more than"),
        ] {
            let err = expand(pattern).unwrap_err();
            assert!(err.message.contains(says), "{pattern}: {}", err.message);
            assert_eq!(err.offset, offset, "{pattern}: {}", err.message);
        }
    }
}
