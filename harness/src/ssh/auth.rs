//! Public key authentication: keys held by ssh-agent first, then identity files (ed25519,
//! ECDSA, RSA signed with rsa-sha2-512/256). Identity files are read once per run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey};

use super::connection::Connection;
use super::error::{Phase, SshError};
use super::known_hosts::fingerprint;

/// One identity file, as loaded.
#[derive(Debug)]
enum Identity {
    Key(Arc<PrivateKey>),
    /// Needs a passphrase tarmac will not ask for; `public` (from `<file>.pub` or the
    /// OpenSSH envelope) tells whether the agent holds it anyway.
    Encrypted {
        public: Option<PublicKey>,
    },
    Missing,
    Unusable(String),
}

/// The run's credentials: the agent socket and a cache of identity files.
#[derive(Debug)]
pub struct Credentials {
    agent_socket: Option<PathBuf>,
    identities: Mutex<HashMap<PathBuf, Arc<Identity>>>,
}

impl Credentials {
    pub fn new(agent_socket: Option<PathBuf>) -> Credentials {
        Credentials {
            agent_socket,
            identities: Mutex::new(HashMap::new()),
        }
    }

    /// Tries the agent's keys, then each identity file, until the server accepts one.
    pub async fn authenticate(
        &self,
        conn: &mut Connection,
        node: &str,
        user: &str,
        identity_files: &[PathBuf],
    ) -> Result<(), SshError> {
        let mut tried: Vec<String> = Vec::new();
        let mut rsa_hash: Option<Option<HashAlg>> = None;
        let mut agent_keys: Vec<PublicKey> = Vec::new();

        if let Some(socket) = &self.agent_socket {
            match agent_identities(socket).await {
                Ok((mut agent, identities)) => {
                    for (key, comment) in identities {
                        let hash = rsa_hash_for(conn, &key, &mut rsa_hash).await;
                        let result = conn
                            .authenticate_publickey_with(user, key.clone(), hash, &mut agent)
                            .await;
                        match result {
                            Ok(r) if r.success() => return Ok(()),
                            Ok(_) => {
                                tried.push(format!("agent key {} {comment}", fingerprint(&key)))
                            }
                            Err(e) => tried.push(format!("agent key {} ({e})", fingerprint(&key))),
                        }
                        agent_keys.push(key);
                    }
                }
                Err(reason) => tried.push(format!("ssh-agent ({reason})")),
            }
        }

        let mut encrypted: Option<&Path> = None;
        for path in identity_files {
            match &*self.identity(path) {
                Identity::Key(key) => {
                    if agent_keys
                        .iter()
                        .any(|k| k.key_data() == key.public_key().key_data())
                    {
                        continue; // the agent offered it already
                    }
                    let hash = rsa_hash_for(conn, key.public_key(), &mut rsa_hash).await;
                    let result = conn
                        .authenticate_publickey(user, PrivateKeyWithHashAlg::new(key.clone(), hash))
                        .await
                        .map_err(|source| SshError::Transport {
                            node: node.to_owned(),
                            phase: Phase::Auth,
                            source,
                        })?;
                    if result.success() {
                        return Ok(());
                    }
                    tried.push(path.display().to_string());
                }
                Identity::Encrypted { public } => {
                    let in_agent = public
                        .as_ref()
                        .is_some_and(|p| agent_keys.iter().any(|k| k.key_data() == p.key_data()));
                    if !in_agent {
                        encrypted.get_or_insert(path);
                    }
                    tried.push(format!("{} (encrypted)", path.display()));
                }
                Identity::Missing => tried.push(format!("{} (not found)", path.display())),
                Identity::Unusable(reason) => {
                    tried.push(format!("{} ({reason})", path.display()));
                }
            }
        }

        if let Some(path) = encrypted {
            return Err(SshError::EncryptedIdentity {
                node: node.to_owned(),
                path: path.to_owned(),
            });
        }
        Err(SshError::AuthRejected {
            node: node.to_owned(),
            user: user.to_owned(),
            tried: if tried.is_empty() {
                "nothing: no ssh-agent (SSH_AUTH_SOCK unset) and no identity file".to_owned()
            } else {
                tried.join(", ")
            },
        })
    }

    fn identity(&self, path: &Path) -> Arc<Identity> {
        let mut cache = self.identities.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(path.to_owned())
            .or_insert_with(|| Arc::new(load_identity(path)))
            .clone()
    }
}

/// The agent's plain keys (certificates are skipped) with their comments.
async fn agent_identities(
    socket: &Path,
) -> Result<
    (
        AgentClient<tokio::net::UnixStream>,
        Vec<(PublicKey, String)>,
    ),
    String,
> {
    let mut agent = AgentClient::connect_uds(socket)
        .await
        .map_err(|e| format!("{}: {e}", socket.display()))?;
    let identities = agent
        .request_identities()
        .await
        .map_err(|e| format!("{}: {e}", socket.display()))?;
    let keys = identities
        .into_iter()
        .filter_map(|id| match id {
            AgentIdentity::PublicKey { key, comment } => Some((key, comment)),
            AgentIdentity::Certificate { .. } => None,
        })
        .collect();
    Ok((agent, keys))
}

/// For RSA keys, the best signature hash the server accepts (asked once per connection);
/// rsa-sha2-256 when the server does not say. `None` for other key types.
async fn rsa_hash_for(
    conn: &Connection,
    key: &PublicKey,
    cached: &mut Option<Option<HashAlg>>,
) -> Option<HashAlg> {
    if !key.algorithm().is_rsa() {
        return None;
    }
    if let Some(hash) = *cached {
        return hash;
    }
    let hash = match conn.best_supported_rsa_hash().await {
        Ok(Some(hash)) => hash,
        _ => Some(HashAlg::Sha256),
    };
    *cached = Some(hash);
    hash
}

fn load_identity(path: &Path) -> Identity {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Identity::Missing,
        Err(e) => return Identity::Unusable(e.to_string()),
    };
    match russh::keys::decode_secret_key(&text, None) {
        Ok(key) => Identity::Key(Arc::new(key)),
        Err(russh::keys::Error::KeyIsEncrypted) => Identity::Encrypted {
            public: public_half(path, &text),
        },
        Err(e) => Identity::Unusable(format!("not a usable private key: {e}")),
    }
}

fn public_half(path: &Path, text: &str) -> Option<PublicKey> {
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(".pub");
    russh::keys::load_public_key(PathBuf::from(pub_path))
        .ok()
        .or_else(|| {
            PrivateKey::from_openssh(text)
                .ok()
                .map(|k| k.public_key().clone())
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::process::Command;

    use super::*;

    fn keygen(dir: &Path, name: &str, kind: &str, passphrase: &str) -> PathBuf {
        let path = dir.join(name);
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-N", passphrase, "-C", name, "-f"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        path
    }

    #[test]
    fn identity_kinds() {
        let dir = tempfile::tempdir().unwrap();
        for kind in ["ed25519", "ecdsa", "rsa"] {
            let path = keygen(dir.path(), &format!("id_{kind}"), kind, "");
            assert!(
                matches!(load_identity(&path), Identity::Key(_)),
                "{kind} loads"
            );
        }
        let enc = keygen(dir.path(), "id_enc", "ed25519", "secret phrase");
        let expected = russh::keys::load_public_key(dir.path().join("id_enc.pub")).unwrap();
        match load_identity(&enc) {
            Identity::Encrypted { public: Some(p) } => {
                assert_eq!(p.key_data(), expected.key_data());
            }
            other => panic!("expected Encrypted, got {other:?}"),
        }
        // Without the .pub file the OpenSSH envelope still names the public key.
        std::fs::remove_file(dir.path().join("id_enc.pub")).unwrap();
        assert!(matches!(
            load_identity(&enc),
            Identity::Encrypted { public: Some(_) }
        ));
        assert!(matches!(
            load_identity(&dir.path().join("none")),
            Identity::Missing
        ));
        std::fs::write(dir.path().join("junk"), "not a key").unwrap();
        assert!(matches!(
            load_identity(&dir.path().join("junk")),
            Identity::Unusable(_)
        ));
    }
}
