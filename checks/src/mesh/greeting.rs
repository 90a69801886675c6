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

/// A path-MTU datagram: `tarmac-pmtu <token> <size>\n`, padded with `.` to `len` bytes
/// (the UDP payload of an IP packet of `size` bytes).
pub fn pmtu(token: &str, size: u32, len: usize) -> Vec<u8> {
    padded(format!("tarmac-pmtu {token} {size}\n"), len)
}

/// The size a path-MTU datagram of this run announces, when it is one whose length
/// matches what it says it was sent as (anything else gets no echo).
pub fn pmtu_size(datagram: &[u8], token: &str) -> Option<u32> {
    let line = datagram.split(|b| *b == b'\n').next()?;
    let text = std::str::from_utf8(line).ok()?;
    let mut words = text.split(' ');
    match (words.next(), words.next(), words.next(), words.next()) {
        (Some("tarmac-pmtu"), Some(t), Some(size), None) if t == token => size.parse().ok(),
        _ => None,
    }
}

/// A listener's echo of a path-MTU datagram: `tarmac-pmtu-echo <token> <node> <size>\n`,
/// padded to the length it received, so the way back carries as many bytes.
pub fn pmtu_echo(token: &str, node: &str, size: u32, len: usize) -> Vec<u8> {
    padded(format!("tarmac-pmtu-echo {token} {node} {size}\n"), len)
}

/// The size an echo reports, when it is our listener on `node`, this run, and whole.
pub fn echoed_size(
    datagram: &[u8],
    token: &str,
    node: &str,
    expected_len: impl Fn(u32) -> usize,
) -> Option<u32> {
    let line = datagram.split(|b| *b == b'\n').next()?;
    let text = std::str::from_utf8(line).ok()?;
    let mut words = text.split(' ');
    let size = match (
        words.next(),
        words.next(),
        words.next(),
        words.next(),
        words.next(),
    ) {
        (Some("tarmac-pmtu-echo"), Some(t), Some(n), Some(size), None)
            if t == token && n == node =>
        {
            size.parse().ok()?
        }
        _ => return None,
    };
    (datagram.len() == expected_len(size)).then_some(size)
}

fn padded(head: String, len: usize) -> Vec<u8> {
    let mut bytes = head.into_bytes();
    if bytes.len() < len {
        bytes.resize(len, b'.');
    }
    bytes
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

    #[test]
    fn path_mtu_datagrams_and_echoes_round_trip() {
        let d = pmtu("abc", 1500, 1472);
        assert_eq!(d.len(), 1472);
        assert_eq!(pmtu_size(&d, "abc"), Some(1500));
        assert_eq!(pmtu_size(&d, "xyz"), None);
        assert_eq!(pmtu_size(b"tarmac-ping abc", "abc"), None);
        let e = pmtu_echo("abc", "cp1", 1500, d.len());
        assert_eq!(echoed_size(&e, "abc", "cp1", |_| 1472), Some(1500));
        assert_eq!(echoed_size(&e, "abc", "w1", |_| 1472), None);
        assert_eq!(
            echoed_size(&e[..1000], "abc", "cp1", |_| 1472),
            None,
            "a cut echo is not whole"
        );
    }
}
