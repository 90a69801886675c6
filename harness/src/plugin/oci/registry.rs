//! Talking to a registry through `oci-client` (rustls on ring): push a plugin as a Wasm
//! artifact, and resolve a reference into the local store: a pinned digest already stored
//! is used without the network; anything else is fetched once, every digest checked (the
//! manifest's against the pin, the layer's against the manifest) before it is stored.
//! Plain HTTP only for a loopback registry or when asked; every request is bounded in time.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use tarmac_checks::document::{self, DocumentLimits};

use crate::plugin::oci::artifact::{self, MAX_MANIFEST_BYTES, MAX_PLUGIN_BYTES, WasmConfig};
use crate::plugin::oci::auth;
use crate::plugin::oci::error::OciError;
use crate::plugin::oci::reference::OciRef;
use crate::plugin::oci::store::{BlobStore, sha256};
use crate::plugin::runner::Abi;

/// How long one registry operation (a push or a pull, all its requests) may take.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(120);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A reference resolved into the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// The reference as written.
    pub reference: OciRef,
    /// What it resolved to: the manifest's digest.
    pub manifest_digest: String,
    /// The wasm layer's digest, which the stored file hashes to.
    pub digest: String,
    /// The stored wasm file.
    pub path: PathBuf,
    /// Said on stderr: e.g. that a tag came from the store because the registry was down.
    pub note: Option<String>,
}

/// Registry access for one command: its own small runtime (the commands that use it run
/// before, or without, the run's runtime).
#[derive(Debug)]
pub struct Registry {
    runtime: tokio::runtime::Runtime,
    plain_http: bool,
}

impl Registry {
    /// `plain_http`: talk HTTP to every registry, not only loopback ones.
    pub fn new(plain_http: bool) -> Result<Self, OciError> {
        // reqwest's rustls needs a process-wide provider; ring is the one russh uses. A
        // second call finds it installed, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| OciError::Registry {
                reference: String::new(),
                reason: format!("cannot start the registry client's runtime: {e}"),
            })?;
        Ok(Self {
            runtime,
            plain_http,
        })
    }

    fn client(&self, r: &OciRef) -> Client {
        let protocol = if self.plain_http || r.is_loopback() {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        };
        Client::new(ClientConfig {
            protocol,
            connect_timeout: Some(CONNECT_TIMEOUT),
            read_timeout: Some(READ_TIMEOUT),
            ..ClientConfig::default()
        })
    }

    fn bounded<T>(
        &self,
        r: &OciRef,
        future: impl Future<Output = Result<T, OciError>>,
    ) -> Result<T, OciError> {
        self.runtime.block_on(async {
            tokio::time::timeout(OPERATION_TIMEOUT, future)
                .await
                .unwrap_or_else(|_| {
                    Err(OciError::Timeout {
                        reference: r.text.clone(),
                        secs: OPERATION_TIMEOUT.as_secs(),
                    })
                })
        })
    }

    /// Pushes the plugin at `file` to `target`; returns the reference pinned to the
    /// manifest digest the registry now serves.
    pub fn push(&self, file: &Path, target: &OciRef) -> Result<OciRef, OciError> {
        let bytes = std::fs::read(file).map_err(|e| OciError::Read {
            path: file.to_owned(),
            reason: e.to_string(),
        })?;
        let abi = Abi::detect(&bytes).map_err(|reason| OciError::NotAPlugin {
            reference: file.display().to_string(),
            reason,
        })?;
        let layer_digest = sha256(&bytes);
        let config = serde_json::to_vec(&WasmConfig::new(abi, &layer_digest)).unwrap_or_default();
        let layers = vec![ImageLayer::new(
            bytes,
            artifact::LAYER_MEDIA_TYPE.to_owned(),
            None,
        )];
        let config = Config::new(config, artifact::CONFIG_MEDIA_TYPE.to_owned(), None);
        let title = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let manifest =
            OciImageManifest::build(&layers, &config, Some(artifact::annotations(&title, abi)));
        let auth = auth::for_registry(target.registry())?;
        let client = self.client(target);
        let reference = &target.reference;
        self.bounded(target, async {
            client
                .push(reference, &layers, config, &auth, Some(manifest))
                .await
                .map_err(|e| registry_error(target, e))?;
            client
                .fetch_manifest_digest(reference, &auth)
                .await
                .map_err(|e| registry_error(target, e))
        })
        .map(|digest| target.pinned_to(&digest))
    }

    /// Resolves `r` into `store`: from the store alone when its digest is pinned and
    /// stored, else from the registry.
    pub fn pull(&self, r: &OciRef, store: &BlobStore) -> Result<Pulled, OciError> {
        if let Some(pinned) = r.digest()
            && let Some(pulled) = stored(r, pinned, store)?
        {
            return Ok(pulled);
        }
        let auth = auth::for_registry(r.registry())?;
        let client = self.client(r);
        let fetched = self.bounded(r, fetch_manifest(&client, &r.reference, &auth, r));
        let (raw, digest) = match fetched {
            Ok(found) => found,
            Err(OciError::Registry { reason, .. }) if r.digest().is_none() => {
                return offline_tag(r, store, reason);
            }
            Err(e) => return Err(e),
        };
        check_digest(
            r,
            "the manifest",
            r.digest().unwrap_or(&digest),
            &sha256(&raw),
        )?;
        let manifest = parse_manifest(r, &raw)?;
        store.put(&digest, &raw)?;
        let (layer_digest, size) =
            artifact::wasm_layer(&manifest).map_err(|reason| OciError::NotAPlugin {
                reference: r.text.clone(),
                reason,
            })?;
        let layer_digest = layer_digest.to_owned();
        let path = match store.read(&layer_digest, MAX_PLUGIN_BYTES) {
            Ok(Some(_)) => store.blob_path(&layer_digest),
            _ => {
                let layer = manifest.layers[0].clone();
                let bytes = self.bounded(r, async {
                    let mut out = Bounded::new(size);
                    client
                        .pull_blob(&r.reference, &layer, &mut out)
                        .await
                        .map_err(|e| registry_error(r, e))?;
                    Ok(out.bytes)
                })?;
                check_digest(r, "the wasm layer", &layer_digest, &sha256(&bytes))?;
                store.put(&layer_digest, &bytes)?
            }
        };
        if r.digest().is_none() {
            store.set_tag(&r.text, &digest)?;
        }
        Ok(Pulled {
            reference: r.clone(),
            manifest_digest: digest,
            digest: layer_digest,
            path,
            note: None,
        })
    }
}

async fn fetch_manifest(
    client: &Client,
    reference: &Reference,
    auth: &RegistryAuth,
    r: &OciRef,
) -> Result<(Vec<u8>, String), OciError> {
    let (raw, digest) = client
        .pull_manifest_raw(reference, auth, &[OCI_IMAGE_MEDIA_TYPE])
        .await
        .map_err(|e| registry_error(r, e))?;
    if raw.len() > MAX_MANIFEST_BYTES {
        return Err(OciError::NotAPlugin {
            reference: r.text.clone(),
            reason: format!(
                "its manifest is {} bytes (limit {MAX_MANIFEST_BYTES})",
                raw.len()
            ),
        });
    }
    Ok((raw.to_vec(), digest))
}

/// A digest-pinned reference whose manifest and layer are both stored (and intact).
fn stored(r: &OciRef, pinned: &str, store: &BlobStore) -> Result<Option<Pulled>, OciError> {
    let Some(raw) = store.read(pinned, MAX_MANIFEST_BYTES as u64)? else {
        return Ok(None);
    };
    let manifest = parse_manifest(r, &raw)?;
    let (layer, _) = artifact::wasm_layer(&manifest).map_err(|reason| OciError::NotAPlugin {
        reference: r.text.clone(),
        reason,
    })?;
    if store.read(layer, MAX_PLUGIN_BYTES)?.is_none() {
        return Ok(None);
    }
    Ok(Some(Pulled {
        reference: r.clone(),
        manifest_digest: pinned.to_owned(),
        digest: layer.to_owned(),
        path: store.blob_path(layer),
        note: None,
    }))
}

/// A tag whose registry cannot be reached: the digest it last resolved to, if stored.
fn offline_tag(r: &OciRef, store: &BlobStore, reason: String) -> Result<Pulled, OciError> {
    let offline = || OciError::Offline {
        reference: r.text.clone(),
        reason: reason.clone(),
    };
    let digest = store.tag(&r.text).ok_or_else(offline)?;
    let mut pulled = stored(r, &digest, store)?.ok_or_else(offline)?;
    pulled.note = Some(format!(
        "{r}: the registry cannot be reached ({reason}); using {digest}, what the tag resolved to last"
    ));
    Ok(pulled)
}

fn parse_manifest(r: &OciRef, raw: &[u8]) -> Result<OciImageManifest, OciError> {
    let limits = DocumentLimits::SETTINGS.named("an OCI manifest");
    document::json_slice(raw, &limits).map_err(|e| OciError::NotAPlugin {
        reference: r.text.clone(),
        reason: format!("its manifest is no OCI image manifest: {e}"),
    })
}

fn check_digest(r: &OciRef, what: &str, expected: &str, actual: &str) -> Result<(), OciError> {
    if expected == actual {
        return Ok(());
    }
    Err(OciError::Digest {
        reference: r.text.clone(),
        what: what.to_owned(),
        expected: expected.to_owned(),
        actual: actual.to_owned(),
    })
}

/// The registry's answer in words: a missing tag or digest apart from other failures.
fn registry_error(r: &OciRef, e: OciDistributionError) -> OciError {
    let reference = r.text.clone();
    match e {
        OciDistributionError::ImageManifestNotFoundError(reason) => {
            OciError::NotFound { reference, reason }
        }
        OciDistributionError::RegistryError { envelope, .. }
            if envelope.errors.iter().any(|e| {
                matches!(
                    e.code,
                    OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown
                )
            }) =>
        {
            OciError::NotFound {
                reference,
                reason: envelope
                    .errors
                    .iter()
                    .map(|e| e.message.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
            }
        }
        OciDistributionError::ServerError {
            code: 404, message, ..
        } => OciError::NotFound {
            reference,
            reason: message,
        },
        OciDistributionError::DigestError(d) => OciError::Tampered {
            reference,
            reason: d.to_string(),
        },
        other => OciError::Registry {
            reference,
            reason: chain(&other),
        },
    }
}

/// An error and its causes: reqwest's "error sending request" says why only in its source.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// An in-memory sink that refuses more than the layer's declared size.
struct Bounded {
    bytes: Vec<u8>,
    limit: u64,
}

impl Bounded {
    fn new(limit: u64) -> Self {
        Self {
            bytes: Vec::new(),
            limit,
        }
    }
}

impl tokio::io::AsyncWrite for Bounded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.bytes.len() as u64 + buf.len() as u64 > self.limit {
            return Poll::Ready(Err(std::io::Error::other(format!(
                "the registry sent more than the {} bytes the manifest declares",
                self.limit
            ))));
        }
        self.bytes.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
