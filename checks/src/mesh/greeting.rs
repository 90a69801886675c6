//! The bytes tarmac's listeners say and the prober checks, and what they prove.
//!
//! Every node of a run holds the run's `token` (it only tells this run's traffic from
//! another run's and from foreign services) and a `secret` of its own, drawn by the
//! harness and handed to that node only. For a pair (listener `t`, prober `q`) the
//! harness derives the pair key `k(t, q) = HMAC-SHA256(secret_t, "tarmac-pair" ‖ t ‖ q)`
//! when it writes `q`'s targets and hands it to `q` only: no table of pairs is kept, and
//! a node learns only the keys of the pairs it probes *from*.
//!
//! Wire (one line each, words separated by a space):
//! - TCP: the prober says `tarmac-hello <token> <prober> <nonce>\n` once connected; the
//!   listener answers `tarmac <token> <node> <seen> <proof>\n`;
//! - UDP: the ping is `tarmac-ping <token> <prober> <nonce>`, the answer the same line;
//! - path MTU: `tarmac-pmtu <token> <size> <prober> <nonce>\n` padded with `.`, echoed as
//!   `tarmac-pmtu-echo <token> <node> <size> <seen> <proof>\n` padded to the same length.
//!
//! `<seen>` is the address the listener saw the probe come from, `<proof>` the first 128
//! bits of `HMAC-SHA256(k(node, prober), kind ‖ token ‖ node ‖ prober ‖ nonce ‖ seen ‖
//! size)`; the listener derives `k(node, prober)` from its secret and the name the prober
//! claims. The prober checks the proof with the key it was handed for the node the
//! answer names, its own fresh nonce, and that `<seen>` is its own source address of that
//! socket.
//!
//! What is proven: an answer that checks came from a holder of `secret_node` (that
//! node's probe, or the harness), for this probe (the nonce: no answer can be replayed
//! from an earlier probe or run), to a connection that the node saw coming from this
//! prober's own address. So a node `F` cannot answer as `t`: it lacks `secret_t` and
//! `k(t, q)`, and what it learned as a prober (`k(t, F)`, `t`'s answers to its own
//! probes) proves nothing to `q`. Relaying `q`'s hello to `t`'s listener (the replay
//! that stays: `F` claims to be `q` towards `t`, then passes `t`'s answer on to `q`)
//! gets an answer that checks but says `<seen>` = `F`'s address, not `q`'s: named as a
//! relay (or proxy, or NAT between the nodes).
//!
//! What is not: anyone who can read the traffic between `q` and `t` learns the token and
//! the names (nothing is encrypted); a node that can send with `q`'s source address and
//! read `t`'s answers to it (on the path between them) can pass as `q` towards `t`. The
//! load-balanced endpoint (its proxy is expected between the two) is checked for the
//! proof but not for `<seen>`. The VRRP probes between load balancers carry the same
//! nonce and proof (kind `vrrp`) in their IP protocol 112 datagrams; the etcd latency
//! samples are bare TCP handshakes and prove nothing of who answered.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use hmac::{Hmac, KeyInit, Mac};
use sha2_11::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Hex digits of a proof (128 bits).
const PROOF_HEX: usize = 32;

/// A pair key `k(t, q)`: what prober `q` checks `t`'s answers with.
#[derive(Clone, PartialEq, Eq)]
pub struct PairKey([u8; 32]);

impl std::fmt::Debug for PairKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PairKey(…)")
    }
}

impl PairKey {
    /// `k(node, prober)`, from `node`'s secret (any bytes; the harness's are 16 random).
    pub fn derive(secret: &[u8], node: &str, prober: &str) -> PairKey {
        let mut mac = mac(secret);
        for part in ["tarmac-pair", node, prober] {
            mac.update(part.as_bytes());
            mac.update(b"\n");
        }
        PairKey(mac.finalize().into_bytes().into())
    }

    /// The key in hex, as the harness writes it into a prober's targets.
    pub fn to_hex(&self) -> String {
        crate::hex::encode(&self.0)
    }

    /// A key written by [`PairKey::to_hex`]; `None` for anything else.
    pub fn from_hex(text: &str) -> Option<PairKey> {
        let bytes = crate::hex::decode(text)?;
        Some(PairKey(bytes.try_into().ok()?))
    }

    /// The proof of one answer.
    pub fn proof(&self, what: &Proven<'_>) -> String {
        let mut mac = mac(&self.0);
        let size = what.size.map(|s| s.to_string()).unwrap_or_default();
        let seen = what.seen.to_canonical().to_string();
        for part in [
            what.kind,
            what.token,
            what.node,
            what.prober,
            what.nonce,
            &seen,
            &size,
        ] {
            mac.update(part.as_bytes());
            mac.update(b"\n");
        }
        let mut out = crate::hex::encode(&mac.finalize().into_bytes());
        out.truncate(PROOF_HEX);
        out
    }
}

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length, so this never falls back (never panic over it).
    <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default()))
}

/// What one proof covers.
#[derive(Debug, Clone, Copy)]
pub struct Proven<'a> {
    /// `tcp`, `udp` or `pmtu`.
    pub kind: &'a str,
    pub token: &'a str,
    /// The node that answers.
    pub node: &'a str,
    /// The node that asked, as it claimed.
    pub prober: &'a str,
    pub nonce: &'a str,
    /// Where the listener saw the probe come from.
    pub seen: IpAddr,
    /// A path-MTU datagram's size.
    pub size: Option<u32>,
}

/// A listener's side: its node, the run's token and its node's secret.
#[derive(Debug, Clone)]
pub struct Identity {
    pub token: String,
    pub node: String,
    secret: Vec<u8>,
}

impl Identity {
    /// `secret` in hex as the harness hands it (anything else is used as bytes: a
    /// listener always answers, and an answer with a wrong proof is named as such).
    pub fn new(token: &str, node: &str, secret: &str) -> Identity {
        Identity {
            token: token.to_owned(),
            node: node.to_owned(),
            secret: crate::hex::decode(secret).unwrap_or_else(|| secret.as_bytes().to_vec()),
        }
    }

    /// The key of the pair (this node, `prober`).
    pub fn pair_key(&self, prober: &str) -> PairKey {
        PairKey::derive(&self.secret, &self.node, prober)
    }

    fn answer(&self, kind: &str, hello: &Hello<'_>, seen: IpAddr, size: Option<u32>) -> String {
        let seen = seen.to_canonical();
        let proof = self.pair_key(hello.prober).proof(&Proven {
            kind,
            token: &self.token,
            node: &self.node,
            prober: hello.prober,
            nonce: hello.nonce,
            seen,
            size,
        });
        match size {
            None => format!("tarmac {} {} {seen} {proof}\n", self.token, self.node),
            Some(size) => format!(
                "tarmac-pmtu-echo {} {} {size} {seen} {proof}\n",
                self.token, self.node
            ),
        }
    }

    /// The answer to a TCP hello received from `seen`; `None` when the bytes are no
    /// hello of this run (the connection is then closed without a word).
    pub fn answer_hello(&self, line: &[u8], seen: IpAddr) -> Option<String> {
        let hello = Hello::parse(line, "tarmac-hello", &self.token)?;
        Some(self.answer("tcp", &hello, seen, None))
    }

    /// The answer to a UDP datagram from `seen`: a ping of this run gets the greeting, a
    /// path-MTU datagram its echo at the same length; anything else nothing (the listener
    /// must not become a reflector for arbitrary traffic).
    pub fn answer_datagram(&self, datagram: &[u8], seen: IpAddr) -> Option<Vec<u8>> {
        if let Some(hello) = Hello::parse(datagram, "tarmac-ping", &self.token) {
            return Some(self.answer("udp", &hello, seen, None).into_bytes());
        }
        let line = datagram.split(|b| *b == b'\n').next()?;
        let text = std::str::from_utf8(line).ok()?;
        let mut words = text.split(' ');
        match (
            words.next(),
            words.next(),
            words.next(),
            words.next(),
            words.next(),
            words.next(),
        ) {
            (Some("tarmac-pmtu"), Some(t), Some(size), Some(prober), Some(nonce), None)
                if t == self.token && valid_word(prober) && valid_word(nonce) =>
            {
                let size: u32 = size.parse().ok()?;
                let hello = Hello { prober, nonce };
                let echo = self.answer("pmtu", &hello, seen, Some(size));
                Some(padded(echo, datagram.len()))
            }
            _ => None,
        }
    }
}

/// A word a peer may put in a hello: short and printable, no space.
fn valid_word(word: &str) -> bool {
    !word.is_empty() && word.len() <= 128 && word.bytes().all(|b| b.is_ascii_graphic())
}

/// A prober's hello, as a listener reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hello<'a> {
    prober: &'a str,
    nonce: &'a str,
}

impl<'a> Hello<'a> {
    fn parse(bytes: &'a [u8], magic: &str, token: &str) -> Option<Hello<'a>> {
        let text = std::str::from_utf8(bytes).ok()?;
        let text = text.strip_suffix('\n').unwrap_or(text);
        let mut words = text.split(' ');
        match (
            words.next(),
            words.next(),
            words.next(),
            words.next(),
            words.next(),
        ) {
            (Some(m), Some(t), Some(prober), Some(nonce), None)
                if m == magic && t == token && valid_word(prober) && valid_word(nonce) =>
            {
                Some(Hello { prober, nonce })
            }
            _ => None,
        }
    }
}

/// A prober's nonces: a random prefix drawn once, then a counter. Fresh for every
/// probe of this node in this run, and unguessable across runs.
#[derive(Debug)]
pub struct Nonces {
    prefix: String,
    next: AtomicU64,
}

impl Nonces {
    /// A prefix from the kernel's random source (the clock and process id if it will not
    /// say: the nonce must be fresh, its secrecy is not what the proof rests on).
    pub fn new() -> Nonces {
        let mut bytes = [0u8; 8];
        let drawn = std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
        if drawn.is_err() {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            let mixed = (now as u64) ^ (u64::from(std::process::id()) << 32);
            bytes = mixed.to_le_bytes();
        }
        Nonces {
            prefix: crate::hex::encode(&bytes),
            next: AtomicU64::new(0),
        }
    }

    pub fn next(&self) -> String {
        format!(
            "{}-{}",
            self.prefix,
            self.next.fetch_add(1, Ordering::Relaxed)
        )
    }
}

impl Default for Nonces {
    fn default() -> Nonces {
        Nonces::new()
    }
}

/// The pair keys a prober was handed, by the node they check.
#[derive(Debug, Clone, Default)]
pub struct PeerKeys(HashMap<String, PairKey>);

impl PeerKeys {
    /// From the harness's `(node, hex key)` list; a key that does not parse is left out
    /// (its node's answers are then unproven, and say so).
    pub fn from_hex<'a>(keys: impl IntoIterator<Item = (&'a str, &'a str)>) -> PeerKeys {
        PeerKeys(
            keys.into_iter()
                .filter_map(|(node, key)| Some((node.to_owned(), PairKey::from_hex(key)?)))
                .collect(),
        )
    }

    pub fn insert(&mut self, node: &str, key: PairKey) {
        self.0.insert(node.to_owned(), key);
    }

    pub fn get(&self, node: &str) -> Option<&PairKey> {
        self.0.get(node)
    }
}

/// A prober's side of one probe: who it is, the keys it holds, its nonce and the
/// address its socket sends from.
#[derive(Debug, Clone, Copy)]
pub struct Asking<'a> {
    pub token: &'a str,
    pub prober: &'a str,
    pub nonce: &'a str,
    pub keys: &'a PeerKeys,
    /// This socket's own address; `None`: not checked (the load-balanced endpoint,
    /// whose proxy is expected between the two).
    pub local: Option<IpAddr>,
}

impl Asking<'_> {
    /// The TCP hello.
    pub fn hello(&self) -> String {
        format!(
            "tarmac-hello {} {} {}\n",
            self.token, self.prober, self.nonce
        )
    }

    /// The UDP ping.
    pub fn ping(&self) -> String {
        format!("tarmac-ping {} {} {}", self.token, self.prober, self.nonce)
    }

    /// A path-MTU datagram of `size` (the IP packet's), padded to `len` bytes (its UDP
    /// payload).
    pub fn pmtu(&self, size: u32, len: usize) -> Vec<u8> {
        padded(
            format!(
                "tarmac-pmtu {} {size} {} {}\n",
                self.token, self.prober, self.nonce
            ),
            len,
        )
    }

    /// What the TCP (`kind` = `tcp`) or UDP (`udp`) answer of `node`'s port turned out
    /// to be.
    pub fn classify(&self, bytes: &[u8], kind: &str, node: &str) -> Answer {
        let text = String::from_utf8_lossy(bytes);
        let mut words = text.trim_end().split(' ');
        match (
            words.next(),
            words.next(),
            words.next(),
            words.next(),
            words.next(),
            words.next(),
        ) {
            (Some("tarmac"), Some(t), Some(named), Some(seen), Some(proof), None)
                if t == self.token =>
            {
                self.judge(kind, node, named, seen, proof, None)
            }
            // An earlier tarmac's greeting (token and node only), or a malformed one.
            (Some("tarmac"), Some(t), Some(named), _, _, _) if t == self.token => {
                Answer::Unproven {
                    named: named.to_owned(),
                    seen: "an answer without a proof".to_owned(),
                }
            }
            (Some("tarmac"), Some(_), Some(_), _, _, _) => Answer::OtherRun,
            _ => Answer::Foreign(excerpt(&text)),
        }
    }

    /// The size a path-MTU echo reports, when it is `node`'s listener answering this
    /// probe and whole (`expected_len` of the size); `None` for anything else.
    pub fn echoed_size(
        &self,
        datagram: &[u8],
        node: &str,
        expected_len: impl Fn(u32) -> usize,
    ) -> Option<u32> {
        let line = datagram.split(|b| *b == b'\n').next()?;
        let text = std::str::from_utf8(line).ok()?;
        let mut words = text.split(' ');
        let (size, seen, proof) = match (
            words.next(),
            words.next(),
            words.next(),
            words.next(),
            words.next(),
            words.next(),
            words.next(),
        ) {
            (
                Some("tarmac-pmtu-echo"),
                Some(t),
                Some(n),
                Some(size),
                Some(seen),
                Some(proof),
                None,
            ) if t == self.token && n == node => (size.parse::<u32>().ok()?, seen, proof),
            _ => return None,
        };
        let proven = self.judge("pmtu", node, node, seen, proof, Some(size)) == Answer::Ours;
        // Whole: as long as it was sent, or (a small datagram, whose payload is shorter
        // than the echo's line) exactly the line.
        let whole = expected_len(size).max(line.len() + 1);
        (proven && datagram.len() == whole).then_some(size)
    }

    /// What an answer of kind `kind` naming `named`, seen from `seen`, with `proof`, is
    /// for a probe of `node` (the VRRP reply's fields, which are no greeting line).
    pub fn judge(
        &self,
        kind: &str,
        node: &str,
        named: &str,
        seen: &str,
        proof: &str,
        size: Option<u32>,
    ) -> Answer {
        let unproven = |why: String| Answer::Unproven {
            named: named.to_owned(),
            seen: why,
        };
        let Some(key) = self.keys.get(named) else {
            return unproven(format!(
                "a proof this node cannot check (it holds no key for {named})"
            ));
        };
        let Ok(seen_ip) = seen.parse::<IpAddr>() else {
            return unproven(format!(
                "{} where the answer says whom it saw",
                excerpt(seen)
            ));
        };
        let expected = key.proof(&Proven {
            kind,
            token: self.token,
            node: named,
            prober: self.prober,
            nonce: self.nonce,
            seen: seen_ip,
            size,
        });
        if !constant_time_eq(expected.as_bytes(), proof.as_bytes()) {
            return unproven(format!(
                "a proof that does not check (expected {named}'s proof for {} and this \
                 probe's nonce)",
                self.prober
            ));
        }
        if let Some(local) = self.local
            && seen_ip.to_canonical() != local.to_canonical()
        {
            return Answer::Relayed {
                named: named.to_owned(),
                seen: seen_ip.to_canonical().to_string(),
                local: local.to_canonical().to_string(),
            };
        }
        if named == node {
            Answer::Ours
        } else {
            Answer::OtherNode(named.to_owned())
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn padded(head: String, len: usize) -> Vec<u8> {
    let mut bytes = head.into_bytes();
    if bytes.len() < len {
        bytes.resize(len, b'.');
    }
    bytes
}

/// What an answer turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Our listener on the expected node, proven.
    Ours,
    /// The listener of another node of this run, proven (address mix-up, NAT).
    OtherNode(String),
    /// A listener of this run's `named` node, proven, but it saw the probe come from
    /// `seen`, not from this socket's own address `local`: a relay, a proxy or NAT.
    Relayed {
        named: String,
        seen: String,
        local: String,
    },
    /// An answer naming `named` that does not prove it (`seen`: what it had instead):
    /// another host on that address, a proxy or a node forging another's answer.
    Unproven { named: String, seen: String },
    /// A tarmac listener of another run (a concurrent tarmac).
    OtherRun,
    /// Not tarmac at all; an excerpt of what was said.
    Foreign(String),
}

impl Answer {
    /// The note of a probe of `node` (at `address`) that got this answer; `verb` is
    /// what the peer did (`said`, `replied`).
    pub fn note(&self, node: &str, address: &str, verb: &str) -> String {
        match self {
            Answer::Ours => String::new(),
            Answer::OtherNode(other) => format!(
                "tarmac's listener on {other} answered instead of {node}'s (address mix-up \
                 or NAT)"
            ),
            Answer::Relayed { named, seen, local } => format!(
                "{named}'s listener answered, but it saw the probe come from {seen}, not \
                 from this node's {local}: a relay, a proxy or NAT is between them (check \
                 that {address} is {node}'s own address, with no proxy or NAT between the \
                 nodes)"
            ),
            Answer::Unproven { named, seen } => format!(
                "the answer at {address} names {named} but does not prove it: expected \
                 {node}'s proof for this probe, saw {seen}; another host answers on that \
                 address, a proxy is in between, or a node forges another's answer (check \
                 which host holds {address})"
            ),
            Answer::OtherRun => "a listener of another tarmac run answered".to_owned(),
            Answer::Foreign(text) => format!("another service answered (it {verb} {text})"),
        }
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
    #![allow(clippy::unwrap_used)]

    use super::*;

    const TOKEN: &str = "abc";
    const HERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 18, 0, 21));
    const ELSEWHERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 18, 0, 66));

    fn identity(node: &str) -> Identity {
        Identity::new(TOKEN, node, &format!("{:0>32}", node.len()))
    }

    /// w1's keys for cp1 and cp2.
    fn keys() -> PeerKeys {
        let mut keys = PeerKeys::default();
        for node in ["cp1", "cp2"] {
            keys.insert(node, identity(node).pair_key("w1"));
        }
        keys
    }

    fn asking<'a>(keys: &'a PeerKeys, nonce: &'a str) -> Asking<'a> {
        Asking {
            token: TOKEN,
            prober: "w1",
            nonce,
            keys,
            local: Some(HERE),
        }
    }

    /// What `listener` answers to `asking`'s TCP hello seen from `seen`.
    fn tcp_answer(listener: &Identity, asking: &Asking<'_>, seen: IpAddr) -> String {
        listener
            .answer_hello(asking.hello().as_bytes(), seen)
            .unwrap()
    }

    #[test]
    fn a_proven_answer_of_the_expected_node_is_ours_and_of_another_node_names_it() {
        let keys = keys();
        let a = asking(&keys, "n-1");
        let cp1 = tcp_answer(&identity("cp1"), &a, HERE);
        assert!(cp1.starts_with("tarmac abc cp1 198.18.0.21 "), "{cp1}");
        assert_eq!(a.classify(cp1.as_bytes(), "tcp", "cp1"), Answer::Ours);
        assert_eq!(
            a.classify(cp1.as_bytes(), "tcp", "cp2"),
            Answer::OtherNode("cp1".into())
        );
        // The same over UDP: a ping, the answer a datagram.
        let udp = identity("cp1")
            .answer_datagram(a.ping().as_bytes(), HERE)
            .unwrap();
        assert_eq!(a.classify(&udp, "udp", "cp1"), Answer::Ours);
        // A TCP proof is no UDP proof: the kind is covered.
        assert!(matches!(
            a.classify(cp1.as_bytes(), "udp", "cp1"),
            Answer::Unproven { .. }
        ));
    }

    #[test]
    fn a_node_cannot_answer_as_another() {
        let keys = keys();
        let a = asking(&keys, "n-1");
        // A listener that says it is cp1 with a secret of its own.
        let forger = Identity::new(TOKEN, "cp1", "forger's own secret");
        let forged = tcp_answer(&forger, &a, HERE);
        let Answer::Unproven { named, seen } = a.classify(forged.as_bytes(), "tcp", "cp1") else {
            panic!("{forged}");
        };
        assert_eq!(named, "cp1");
        assert!(seen.contains("does not check"), "{seen}");
        // An answer in the old form (token and node, no proof) proves nothing either.
        let old = format!("tarmac {TOKEN} cp1\n");
        assert!(matches!(
            a.classify(old.as_bytes(), "tcp", "cp1"),
            Answer::Unproven { .. }
        ));
        // A node that holds no key of the named one cannot check it: unproven.
        let w9 = tcp_answer(&identity("w9"), &a, HERE);
        let answer = a.classify(w9.as_bytes(), "tcp", "cp1");
        assert!(
            matches!(&answer, Answer::Unproven { named, seen } if named == "w9" && seen.contains("no key")),
            "{answer:?}"
        );
        let note = answer.note("cp1", "198.18.0.11", "said");
        assert!(
            note.contains("names w9 but does not prove it") && note.contains("198.18.0.11"),
            "{note}"
        );
    }

    #[test]
    fn what_a_forger_learns_proves_nothing_to_another_prober() {
        let keys = keys();
        let cp1 = identity("cp1");
        // The forger probed cp1 itself (as w9): cp1's answer to it, with w9's key.
        let mut w9_keys = PeerKeys::default();
        w9_keys.insert("cp1", cp1.pair_key("w9"));
        let w9 = Asking {
            prober: "w9",
            ..asking(&w9_keys, "n-7")
        };
        let learned = tcp_answer(&cp1, &w9, HERE);
        assert_eq!(w9.classify(learned.as_bytes(), "tcp", "cp1"), Answer::Ours);
        // Replayed to w1: another prober's proof.
        let a = asking(&keys, "n-7");
        assert!(matches!(
            a.classify(learned.as_bytes(), "tcp", "cp1"),
            Answer::Unproven { .. }
        ));
        // It asked cp1 claiming to be w1, earlier (another nonce): stale.
        let stale = tcp_answer(&cp1, &asking(&keys, "n-1"), HERE);
        assert!(matches!(
            asking(&keys, "n-2").classify(stale.as_bytes(), "tcp", "cp1"),
            Answer::Unproven { .. }
        ));
        // It relays w1's own hello to cp1, now: cp1 saw the forger's address.
        let relayed = tcp_answer(&cp1, &a, ELSEWHERE);
        let answer = a.classify(relayed.as_bytes(), "tcp", "cp1");
        assert_eq!(
            answer,
            Answer::Relayed {
                named: "cp1".into(),
                seen: "198.18.0.66".into(),
                local: "198.18.0.21".into()
            }
        );
        assert!(answer.note("cp1", "198.18.0.11", "said").contains("relay"));
        // ...and edits the address it was seen from: the proof no longer checks.
        let edited = relayed.replace("198.18.0.66", "198.18.0.21");
        assert!(matches!(
            a.classify(edited.as_bytes(), "tcp", "cp1"),
            Answer::Unproven { .. }
        ));
        // Without a local address to hold it to (the endpoint), a relayed answer is
        // the node's.
        let via_proxy = Asking { local: None, ..a };
        assert_eq!(
            via_proxy.classify(relayed.as_bytes(), "tcp", "cp1"),
            Answer::Ours
        );
    }

    #[test]
    fn other_runs_and_foreign_services_are_told_apart() {
        let keys = keys();
        let a = asking(&keys, "n-1");
        let other_run = Identity::new("xyz", "cp1", "s");
        let answer = other_run
            .answer_hello(b"tarmac-hello xyz w1 n-1\n", HERE)
            .unwrap();
        assert_eq!(
            a.classify(answer.as_bytes(), "tcp", "cp1"),
            Answer::OtherRun
        );
        assert_eq!(
            a.classify(b"SSH-2.0-OpenSSH_9.2\r\n", "tcp", "cp1"),
            Answer::Foreign("\"SSH-2.0-OpenSSH_9.2\"".into())
        );
        // A listener answers only this run's hellos and pings.
        let cp1 = identity("cp1");
        assert_eq!(cp1.answer_hello(b"tarmac-hello xyz w1 n-1\n", HERE), None);
        assert_eq!(cp1.answer_hello(b"GET / HTTP/1.1\r\n", HERE), None);
        assert_eq!(cp1.answer_hello(b"tarmac-hello abc w 1 n\n", HERE), None);
        assert_eq!(cp1.answer_datagram(b"tarmac-ping abd w1 n-1", HERE), None);
        assert_eq!(cp1.answer_datagram(b"tarmac-ping abc", HERE), None);
    }

    #[test]
    fn path_mtu_datagrams_and_echoes_round_trip_proven() {
        let keys = keys();
        let a = asking(&keys, "n-3");
        let d = a.pmtu(1500, 1472);
        assert_eq!(d.len(), 1472);
        let cp1 = identity("cp1");
        let echo = cp1.answer_datagram(&d, HERE).unwrap();
        assert_eq!(echo.len(), 1472, "echoed at the length it came");
        assert_eq!(a.echoed_size(&echo, "cp1", |_| 1472), Some(1500));
        assert_eq!(a.echoed_size(&echo, "cp2", |_| 1472), None);
        assert_eq!(
            a.echoed_size(&echo[..1000], "cp1", |_| 1472),
            None,
            "a cut echo is not whole"
        );
        // Another node's echo naming cp1, or one relayed, is no echo of cp1.
        let forged = Identity::new(TOKEN, "cp1", "other").answer_datagram(&d, HERE);
        assert_eq!(a.echoed_size(&forged.unwrap(), "cp1", |_| 1472), None);
        let relayed = cp1.answer_datagram(&d, ELSEWHERE).unwrap();
        assert_eq!(a.echoed_size(&relayed, "cp1", |_| 1472), None);
        // Nor one for another probe.
        let b = asking(&keys, "n-4");
        assert_eq!(b.echoed_size(&echo, "cp1", |_| 1472), None);
        // The smallest datagram (128 bytes: a 100-byte payload) is shorter than an echo's
        // line with a 32-digit token and long names: the echo is the line, and counts.
        let long = Identity::new(&"f".repeat(32), "control-plane-01", "s");
        let mut long_keys = PeerKeys::default();
        long_keys.insert("control-plane-01", long.pair_key("worker-0042"));
        let token = "f".repeat(32);
        let w = Asking {
            token: &token,
            prober: "worker-0042",
            nonce: "0123456789abcdef-17",
            keys: &long_keys,
            local: Some(HERE),
        };
        let small = w.pmtu(128, 100);
        let echo = long.answer_datagram(&small, HERE).unwrap();
        assert!(echo.len() > 100, "{}", echo.len());
        assert_eq!(w.echoed_size(&echo, "control-plane-01", |_| 100), Some(128));
        assert_eq!(
            w.echoed_size(&echo[..echo.len() - 1], "control-plane-01", |_| 100),
            None
        );
    }

    #[test]
    fn keys_round_trip_in_hex_and_nonces_are_fresh() {
        let key = identity("cp1").pair_key("w1");
        assert_eq!(PairKey::from_hex(&key.to_hex()), Some(key.clone()));
        assert_eq!(key.to_hex().len(), 64);
        assert_eq!(PairKey::from_hex("abc"), None);
        assert_eq!(PairKey::from_hex(&"zz".repeat(32)), None);
        assert_ne!(key, identity("cp1").pair_key("w2"), "one key per prober");
        assert_ne!(key, identity("cp2").pair_key("w1"), "one key per node");
        let nonces = Nonces::new();
        let (a, b) = (nonces.next(), nonces.next());
        assert_ne!(a, b);
        assert_ne!(Nonces::new().next(), a, "a fresh prefix each time");
    }

    /// Any prober name and nonce a listener accepts round-trips to `Ours`, and no
    /// change of one byte of a proof is accepted (a few hundred cases, deterministic).
    #[test]
    fn proofs_hold_for_any_names_and_break_on_any_changed_byte() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet: Vec<char> = ('!'..='~').collect();
        for _ in 0..200 {
            let mut word = |max: u64| -> String {
                let len = 1 + next() % max;
                (0..len)
                    .map(|_| alphabet[usize::try_from(next()).unwrap() % alphabet.len()])
                    .collect()
            };
            let (node, prober, nonce) = (word(20), word(128), word(40));
            let listener = Identity::new(TOKEN, &node, &word(40));
            let mut keys = PeerKeys::default();
            keys.insert(&node, listener.pair_key(&prober));
            let a = Asking {
                token: TOKEN,
                prober: &prober,
                nonce: &nonce,
                keys: &keys,
                local: Some(HERE),
            };
            let answer = tcp_answer(&listener, &a, HERE);
            assert_eq!(a.classify(answer.as_bytes(), "tcp", &node), Answer::Ours);
            let proof_at = answer.trim_end().rfind(' ').unwrap() + 1;
            let at = proof_at + usize::try_from(next()).unwrap() % PROOF_HEX;
            let mut bytes = answer.into_bytes();
            bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
            assert!(matches!(
                a.classify(&bytes, "tcp", &node),
                Answer::Unproven { .. }
            ));
        }
    }
}
