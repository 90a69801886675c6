//! A load balancer's VRRP listener: one raw IPv4 socket of protocol 112, read by a thread
//! of its own from `listening` to `close`. It answers this run's probes from the other
//! load balancers, collects the replies to its own probes, and notes every VRRP
//! advertisement it hears (only a master sends them). Needs CAP_NET_RAW (root, or
//! `sudo: true`); without it the listener says why and every VRRP probe is untestable.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::vrrp_packet::{Advert, Heard, IPPROTO_VRRP, Kind, TarmacDatagram, parse_ipv4};
use crate::ha_protocol::{VrrpAdvert, VrrpHeard, VrrpReach, VrrpTarget};
use crate::reachability::Verdict;

/// How often the thread looks at its stop flag.
const TICK: Duration = Duration::from_millis(100);
/// Datagrams per probe, spread over its deadline.
const ATTEMPTS: u32 = 3;
/// Distinct (sender, VRID) pairs remembered at most.
const MAX_ADVERTS: usize = 256;

#[derive(Debug, Default)]
struct State {
    /// Replies to this node's probes: sequence number → (answering node, when).
    replies: HashMap<u32, (String, Instant)>,
    adverts: BTreeMap<(Ipv4Addr, u8), VrrpAdvert>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The open listener of one load balancer.
#[derive(Debug)]
pub struct VrrpListener {
    token: String,
    node: String,
    socket: Option<Socket>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    next_seq: AtomicU32,
    opened: Instant,
    /// Why the listener could not open, if it could not.
    pub error: Option<String>,
}

impl VrrpListener {
    pub fn open(token: &str, node: &str) -> VrrpListener {
        let mut listener = VrrpListener {
            token: token.to_owned(),
            node: node.to_owned(),
            socket: None,
            shared: Arc::new(Shared::default()),
            stop: Arc::new(AtomicBool::new(false)),
            thread: None,
            next_seq: AtomicU32::new(1),
            opened: Instant::now(),
            error: None,
        };
        match listener.start() {
            Ok(()) => {}
            Err(e) => {
                listener.error = Some(format!(
                    "cannot open a raw socket for IP protocol 112 (VRRP): {e}{}",
                    if e.kind() == io::ErrorKind::PermissionDenied {
                        " (it needs root or CAP_NET_RAW: log in as root or set `sudo: true`)"
                    } else {
                        ""
                    }
                ));
            }
        }
        listener
    }

    fn start(&mut self) -> io::Result<()> {
        let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(IPPROTO_VRRP)))?;
        socket.set_read_timeout(Some(TICK))?;
        let reader = socket.try_clone()?;
        let (shared, stop) = (self.shared.clone(), self.stop.clone());
        let (token, node, opened) = (self.token.clone(), self.node.clone(), self.opened);
        let thread = std::thread::Builder::new()
            .name("vrrp-listen".to_owned())
            .spawn(move || serve(&reader, &shared, &stop, &token, &node, opened))?;
        self.socket = Some(socket);
        self.thread = Some(thread);
        Ok(())
    }

    /// Probes every target at once; one result each.
    pub fn probe_all(&self, targets: &[VrrpTarget], timeout: Duration) -> Vec<VrrpReach> {
        std::thread::scope(|scope| {
            let handles: Vec<_> = targets
                .iter()
                .map(|t| scope.spawn(move || self.probe(t, timeout)))
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        })
    }

    fn probe(&self, target: &VrrpTarget, timeout: Duration) -> VrrpReach {
        let mut reach = VrrpReach {
            from: self.node.clone(),
            to: target.node.clone(),
            address: target.address.clone(),
            result: Verdict::Untestable,
            rtt_us: None,
            note: String::new(),
        };
        let Some(socket) = &self.socket else {
            reach.note = self.error.clone().unwrap_or_default();
            return reach;
        };
        let Ok(ip) = target.address.parse::<Ipv4Addr>() else {
            reach.note = format!(
                "{} is not an IPv4 address: only VRRP over IPv4 is probed",
                target.address
            );
            return reach;
        };
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let datagram = TarmacDatagram {
            kind: Kind::Probe,
            token: self.token.clone(),
            from: self.node.clone(),
            to: target.node.clone(),
            seq,
        }
        .encode();
        let to = SockAddr::from(SocketAddr::new(IpAddr::V4(ip), 0));
        let step = (timeout / ATTEMPTS).max(Duration::from_millis(50));
        for _ in 0..ATTEMPTS {
            let sent = Instant::now();
            if let Err(e) = socket.send_to(&datagram, &to) {
                reach.result = Verdict::Refused;
                reach.note = format!("sending to {ip} failed: {e}");
                return reach;
            }
            if let Some((answered_by, at)) = self.wait_reply(seq, sent + step) {
                if answered_by == target.node {
                    reach.result = Verdict::Ok;
                    reach.rtt_us =
                        u64::try_from(at.saturating_duration_since(sent).as_micros()).ok();
                } else {
                    reach.result = Verdict::WrongPeer;
                    reach.note =
                        format!("{answered_by} answered at {ip} instead of {}", target.node);
                }
                return reach;
            }
        }
        reach.result = Verdict::Timeout;
        reach.note = format!(
            "no reply to {ATTEMPTS} IP protocol 112 datagrams within {:.1}s (VRRP is dropped \
             between the two, or no tarmac listener there)",
            timeout.as_secs_f64()
        );
        reach
    }

    fn wait_reply(&self, seq: u32, until: Instant) -> Option<(String, Instant)> {
        let mut state = self.shared.lock();
        loop {
            if let Some(found) = state.replies.remove(&seq) {
                return Some(found);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .map(|(s, _)| s)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// Waits until the listener has been open `at_least`, then says what it heard.
    pub fn heard(&self, keepalived_running: bool, at_least: Duration) -> VrrpHeard {
        if keepalived_running && self.socket.is_some() {
            let left = at_least.saturating_sub(self.opened.elapsed());
            std::thread::sleep(left);
        }
        let adverts = self.shared.lock().adverts.values().cloned().collect();
        VrrpHeard {
            node: self.node.clone(),
            keepalived_running,
            listened_ms: u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX),
            adverts,
            error: self.error.clone().unwrap_or_default(),
        }
    }

    /// Stops the thread and closes the socket.
    pub fn close(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for VrrpListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(
    socket: &Socket,
    shared: &Shared,
    stop: &AtomicBool,
    token: &str,
    node: &str,
    opened: Instant,
) {
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let n = match (&*socket).read(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(_) => {
                std::thread::sleep(TICK);
                continue;
            }
        };
        let Some((src, heard)) = parse_ipv4(&buf[..n]) else {
            continue;
        };
        match heard {
            Heard::Tarmac(d) if d.token == token && d.to == node => match d.kind {
                Kind::Probe => {
                    let reply = TarmacDatagram {
                        kind: Kind::Reply,
                        token: d.token,
                        from: node.to_owned(),
                        to: d.from,
                        seq: d.seq,
                    };
                    let back = SockAddr::from(SocketAddr::new(IpAddr::V4(src), 0));
                    let _ = socket.send_to(&reply.encode(), &back);
                }
                Kind::Reply => {
                    shared
                        .lock()
                        .replies
                        .insert(d.seq, (d.from, Instant::now()));
                    shared.changed.notify_all();
                }
            },
            Heard::Advert(advert) => {
                let at_ms = u64::try_from(opened.elapsed().as_millis()).unwrap_or(u64::MAX);
                note_advert(&mut shared.lock(), src, advert, at_ms);
            }
            Heard::Tarmac(_) | Heard::Other => {}
        }
    }
}

/// Counts `advert`, heard `at_ms` after the listener opened.
fn note_advert(state: &mut State, src: Ipv4Addr, advert: Advert, at_ms: u64) {
    let key = (src, advert.vrid);
    if !state.adverts.contains_key(&key) && state.adverts.len() >= MAX_ADVERTS {
        return;
    }
    let entry = state.adverts.entry(key).or_insert_with(|| VrrpAdvert {
        from: IpAddr::V4(src),
        vrid: advert.vrid,
        priority: advert.priority,
        version: advert.version,
        addresses: Vec::new(),
        count: 0,
        interval_ms: advert.interval_ms,
        first_ms: at_ms,
        last_ms: at_ms,
    });
    entry.count = entry.count.saturating_add(1);
    entry.last_ms = at_ms;
    entry.interval_ms = advert.interval_ms;
    entry.priority = advert.priority;
    entry.addresses = advert.addresses;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Raw sockets need root: without it this test can only check the error.
    fn needs_root(listener: &VrrpListener) -> bool {
        if let Some(e) = &listener.error {
            assert!(e.contains("CAP_NET_RAW"), "{e}");
            assert!(
                std::env::var_os("TARMAC_LAB_REQUIRED").is_none(),
                "TARMAC_LAB_REQUIRED is set, but {e}"
            );
            eprintln!("skipped: {e}");
            return false;
        }
        true
    }

    #[test]
    fn a_probe_over_loopback_is_answered_and_a_wrong_name_is_wrong_peer() {
        let listener = VrrpListener::open("t0k", "lb1");
        if !needs_root(&listener) {
            return;
        }
        let me = VrrpTarget {
            node: "lb1".into(),
            address: "127.0.0.1".into(),
        };
        let found = listener.probe_all(&[me], Duration::from_secs(1));
        assert_eq!(found[0].result, Verdict::Ok, "{found:?}");
        assert!(found[0].rtt_us.is_some());
        // Addressed to lb2, but only lb1 listens here: nobody answers.
        let other = VrrpTarget {
            node: "lb2".into(),
            address: "127.0.0.1".into(),
        };
        let found = listener.probe_all(&[other], Duration::from_millis(300));
        assert_eq!(found[0].result, Verdict::Timeout, "{found:?}");
        let heard = listener.heard(false, Duration::ZERO);
        assert!(
            heard.adverts.is_empty() && heard.error.is_empty(),
            "{heard:?}"
        );
        listener.close();
    }

    #[test]
    fn adverts_are_counted_per_sender_and_router() {
        let mut state = State::default();
        let advert = Advert {
            version: 2,
            vrid: 51,
            priority: 150,
            interval_ms: 1000,
            addresses: vec![[198, 18, 0, 250].into()],
        };
        for at_ms in [100, 1100, 2100] {
            note_advert(
                &mut state,
                Ipv4Addr::new(198, 18, 0, 5),
                advert.clone(),
                at_ms,
            );
        }
        note_advert(&mut state, Ipv4Addr::new(198, 18, 0, 6), advert, 1500);
        let seen: Vec<(u32, u64, u64)> = state
            .adverts
            .values()
            .map(|a| (a.count, a.first_ms, a.last_ms))
            .collect();
        assert_eq!(seen, [(3, 100, 2100), (1, 1500, 1500)]);
    }
}
