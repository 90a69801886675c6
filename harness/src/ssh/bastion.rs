//! Shared connections to jump hosts: nodes behind a bastion are reached through
//! direct-tcpip channels on a few long-lived connections, never one connection per node
//! (OpenSSH's `MaxStartups 10:30:100` drops unauthenticated connections beyond ten).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::connection::Connection;
use super::error::SshError;
use crate::target::JumpHost;

/// Connections per bastion: a handful carry hundreds of channels, and at most this many
/// handshakes with the bastion are ever in flight.
pub const DEFAULT_CONNECTIONS_PER_BASTION: usize = 2;

#[derive(Default)]
enum Slot {
    #[default]
    Empty,
    Ready(Arc<Connection>),
    /// The bastion could not be reached; later nodes fail fast with the same reason
    /// instead of each waiting out its own timeout.
    Failed(Arc<str>),
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Slot::Empty => f.write_str("Empty"),
            Slot::Ready(conn) => write!(f, "Ready(closed: {})", conn.is_closed()),
            Slot::Failed(reason) => write!(f, "Failed({reason:?})"),
        }
    }
}

#[derive(Debug)]
struct Slots {
    slots: Vec<tokio::sync::Mutex<Slot>>,
    next: AtomicUsize,
}

/// The run's bastion connections, by jump host.
#[derive(Debug)]
pub struct BastionPool {
    per_bastion: usize,
    pools: Mutex<HashMap<JumpHost, Arc<Slots>>>,
}

impl BastionPool {
    pub fn new(per_bastion: usize) -> BastionPool {
        BastionPool {
            per_bastion: per_bastion.max(1),
            pools: Mutex::new(HashMap::new()),
        }
    }

    /// A live connection to `jump`, made with `dial` when the chosen slot has none. Slots
    /// are used round robin; each dials under its own lock, so concurrent nodes wait for
    /// the one handshake rather than starting their own.
    pub async fn connection<F, Fut>(
        &self,
        node: &str,
        jump: &JumpHost,
        dial: F,
    ) -> Result<Arc<Connection>, SshError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Connection, SshError>>,
    {
        let pool = {
            let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
            pools
                .entry(jump.clone())
                .or_insert_with(|| {
                    Arc::new(Slots {
                        slots: (0..self.per_bastion)
                            .map(|_| tokio::sync::Mutex::new(Slot::Empty))
                            .collect(),
                        next: AtomicUsize::new(0),
                    })
                })
                .clone()
        };
        let i = pool.next.fetch_add(1, Ordering::Relaxed) % pool.slots.len();
        let Some(slot) = pool.slots.get(i) else {
            return Err(unavailable(node, jump, "no connection slot".into()));
        };
        let mut slot = slot.lock().await;
        match &*slot {
            Slot::Ready(conn) if !conn.is_closed() => return Ok(conn.clone()),
            Slot::Failed(reason) => return Err(unavailable(node, jump, reason.clone())),
            _ => {}
        }
        match dial().await {
            Ok(conn) => {
                let conn = Arc::new(conn);
                *slot = Slot::Ready(conn.clone());
                Ok(conn)
            }
            Err(e) => {
                *slot = Slot::Failed(e.to_string().into());
                Err(SshError::Bastion {
                    node: node.to_owned(),
                    bastion: describe(jump),
                    source: Box::new(e),
                })
            }
        }
    }
}

/// `user@host:port`, as the operator wrote it.
pub fn describe(jump: &JumpHost) -> String {
    format!("{}@{}:{}", jump.user, jump.host, jump.port)
}

fn unavailable(node: &str, jump: &JumpHost, reason: Arc<str>) -> SshError {
    SshError::BastionUnavailable {
        node: node.to_owned(),
        bastion: describe(jump),
        reason: reason.to_string(),
    }
}
