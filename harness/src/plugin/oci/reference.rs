//! `oci://REGISTRY/REPO:TAG`, `oci://REGISTRY/REPO@sha256:DIGEST` or both: parsed by the
//! OCI distribution grammar (oci-spec's `Reference`), with the registry required, since a
//! plugin silently fetched from Docker Hub is not what an operator means.

use oci_client::Reference;

use crate::plugin::oci::error::OciError;

/// The scheme `--plugin` and `plugins:` entries use for registry plugins.
pub const SCHEME: &str = "oci://";

/// A parsed plugin reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciRef {
    pub reference: Reference,
    /// As written (with the scheme), for messages and the report.
    pub text: String,
}

impl OciRef {
    /// Parses `text`, with or without the `oci://` scheme.
    pub fn parse(text: &str) -> Result<Self, OciError> {
        let bare = text.strip_prefix(SCHEME).unwrap_or(text);
        let bad = |reason: String| OciError::BadReference {
            reference: text.to_owned(),
            reason,
        };
        let first = bare.split('/').next().unwrap_or_default();
        let names_registry = bare.contains('/')
            && (first.contains('.') || first.contains(':') || first == "localhost");
        if !names_registry {
            return Err(bad("it names no registry host".to_owned()));
        }
        let reference = Reference::try_from(bare).map_err(|e| bad(e.to_string()))?;
        if let Some(digest) = reference.digest()
            && !is_sha256(digest)
        {
            return Err(bad(format!(
                "digest {digest} is not sha256:<64 hex digits>"
            )));
        }
        if reference.tag().is_none() && reference.digest().is_none() {
            return Err(bad("it names neither a tag nor a digest".to_owned()));
        }
        Ok(Self {
            reference,
            text: format!("{SCHEME}{bare}"),
        })
    }

    /// Whether `text` is meant as an OCI reference (rather than a path).
    pub fn is_oci(text: &str) -> bool {
        text.starts_with(SCHEME)
    }

    /// The pinned digest, `sha256:<hex>`, when the reference carries one.
    pub fn digest(&self) -> Option<&str> {
        self.reference.digest()
    }

    pub fn registry(&self) -> &str {
        self.reference.registry()
    }

    /// `localhost` or `127.x.y.z`, with any port: reached over plain HTTP. (The distribution
    /// grammar has no bracketed IPv6 hosts, so `[::1]` cannot be named.)
    pub fn is_loopback(&self) -> bool {
        let host = self.registry().split(':').next().unwrap_or_default();
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// The same repository at `digest`: what a tag resolved to.
    pub fn pinned_to(&self, digest: &str) -> Self {
        let bare = format!(
            "{}/{}{}@{digest}",
            self.reference.registry(),
            self.reference.repository(),
            self.reference
                .tag()
                .map(|t| format!(":{t}"))
                .unwrap_or_default()
        );
        Self {
            reference: self.reference.clone_with_digest(digest.to_owned()),
            text: format!("{SCHEME}{bare}"),
        }
    }
}

impl std::fmt::Display for OciRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// `sha256:` and 64 lowercase hex digits.
pub fn is_sha256(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn a_tag_and_a_digest_are_read() {
        let r = OciRef::parse("oci://localhost:5000/site/kernel:1.0").unwrap();
        assert_eq!(r.registry(), "localhost:5000");
        assert_eq!(r.reference.repository(), "site/kernel");
        assert_eq!(r.reference.tag(), Some("1.0"));
        assert!(r.is_loopback());
        let pinned =
            OciRef::parse(&format!("oci://registry.example/site/kernel@{DIGEST}")).unwrap();
        assert_eq!(pinned.digest(), Some(DIGEST));
        assert!(!pinned.is_loopback());
        assert_eq!(
            r.pinned_to(DIGEST).text,
            format!("oci://localhost:5000/site/kernel:1.0@{DIGEST}")
        );
    }

    #[test]
    fn a_reference_without_registry_or_tag_is_refused() {
        let err = OciRef::parse("oci://kernel:1.0").unwrap_err().to_string();
        assert!(err.contains("names no registry"), "{err}");
        let err = OciRef::parse("oci://registry.example/site/kernel@sha256:abc")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("oci://registry.example/site/kernel@sha256:abc"),
            "{err}"
        );
        assert!(
            OciRef::parse("oci://127.0.0.1:5000/k:1")
                .unwrap()
                .is_loopback()
        );
        // The distribution grammar has no bracketed IPv6 registry hosts.
        assert!(OciRef::parse("oci://[::1]:5000/k:1").is_err());
    }
}
