//! Which files a set of grants covers: absolute paths or globs (`*` and `?` within one
//! segment, `**` any segments), where secrets (the SSH host keys, /etc/shadow,
//! /etc/gshadow, Kubernetes private keys) are covered only by their exact path. The
//! harness holds each plugin's requests to it; the probe holds the file a requested path
//! resolves to (through a symlink) to the same grants, so a granted link cannot lead to
//! an ungranted secret.

/// Secrets a glob never covers: only a grant naming the exact path does.
const SECRETS: [&str; 4] = [
    "/etc/ssh/ssh_host_*",
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/kubernetes/pki/**/*.key",
];

/// Whether `patterns` cover the file `path`: named exactly, or matched by a glob when it
/// is no secret.
pub fn file_granted(patterns: &[String], path: &str) -> bool {
    if !is_plain_absolute(path) {
        return false;
    }
    if patterns.iter().any(|p| p == path) {
        return true;
    }
    let secret = SECRETS.iter().any(|s| glob_match(s, path));
    !secret && patterns.iter().any(|p| glob_match(p, path))
}

/// An absolute path without `.`/`..` segments or empty ones, so that a glob's match is
/// the file that is read (`/etc/../etc/shadow` would escape `/etc/**`'s meaning).
fn is_plain_absolute(path: &str) -> bool {
    path.strip_prefix('/').is_some_and(|rest| {
        rest.split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
    })
}

/// `pattern` against `path`, segment by segment: `**` matches any number of segments, in a
/// segment `*` matches any run of characters and `?` one.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    segments_match(&pattern, &path)
}

fn segments_match(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| segments_match(rest, &path[skip..])),
        Some((first, rest)) => path
            .split_first()
            .is_some_and(|(seg, tail)| segment_match(first, seg) && segments_match(rest, tail)),
    }
}

fn segment_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Classic wildcard matching with one backtrack point for the last `*`.
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}
