//! The bytes tarmac's listeners say and the prober checks: `tarmac <token> <node>\n` on
//! TCP (written on accept), the same in reply to a `tarmac-ping <token>` UDP datagram.

/// What a prober sends in a UDP datagram.
pub fn ping(token: &str) -> String {
    format!("tarmac-ping {token}")
}

/// Whether a UDP datagram is this run's ping (anything else gets no reply: the
/// listener must not become a reflector for arbitrary traffic).
pub fn is_ping(datagram: &[u8], token: &str) -> bool {
    datagram == ping(token).as_bytes()
}

/// What a listener of `node` says.
pub fn greeting(token: &str, node: &str) -> String {
    format!("tarmac {token} {node}\n")
}

/// What an answer turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Our listener on the expected node.
    Ours,
    /// A tarmac listener of this run, but announcing another node (address mix-up, NAT).
    OtherNode(String),
    /// A tarmac listener of another run (a concurrent tarmac).
    OtherRun,
    /// Not tarmac at all; an excerpt of what was said.
    Foreign(String),
}

/// Classifies `bytes` received from the port of `node`.
pub fn classify(bytes: &[u8], token: &str, node: &str) -> Answer {
    let text = String::from_utf8_lossy(bytes);
    let mut words = text.trim_end().split(' ');
    match (words.next(), words.next(), words.next(), words.next()) {
        (Some("tarmac"), Some(t), Some(n), None) if t == token && n == node => Answer::Ours,
        (Some("tarmac"), Some(t), Some(n), None) if t == token => Answer::OtherNode(n.to_owned()),
        (Some("tarmac"), Some(_), Some(_), None) => Answer::OtherRun,
        _ => Answer::Foreign(excerpt(&text)),
    }
}

/// A short, printable rendering of what a foreign service said.
fn excerpt(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(60)
        .collect();
    format!("{:?}", clean.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_told_apart() {
        let g = greeting("abc", "cp1");
        assert_eq!(classify(g.as_bytes(), "abc", "cp1"), Answer::Ours);
        assert_eq!(
            classify(g.as_bytes(), "abc", "w1"),
            Answer::OtherNode("cp1".into())
        );
        assert_eq!(classify(g.as_bytes(), "xyz", "cp1"), Answer::OtherRun);
        assert_eq!(
            classify(b"SSH-2.0-OpenSSH_9.2\r\n", "abc", "cp1"),
            Answer::Foreign("\"SSH-2.0-OpenSSH_9.2\"".into())
        );
        assert!(is_ping(ping("abc").as_bytes(), "abc"));
        assert!(!is_ping(b"tarmac-ping abd", "abc"));
    }
}
