//! Registry credentials from the docker config file (`$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`): its `auths` entries (`auth` = base64 `user:password`, or
//! `username`/`password`), matched by registry host. Credential helpers (`credsStore`,
//! `credHelpers`) are not run; a registry without an inline entry is asked anonymously.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tarmac_checks::document::{self, DocumentLimits};

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

use crate::plugin::oci::error::OciError;

#[derive(Debug, Default, Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// Where the docker config is looked for.
pub fn config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker/config.json"))
}

/// The credentials for `registry` (host[:port]); anonymous when none are configured.
pub fn for_registry(registry: &str) -> Result<RegistryAuth, OciError> {
    match config_path() {
        Some(path) if path.is_file() => from_file(&path, registry),
        _ => Ok(RegistryAuth::Anonymous),
    }
}

fn from_file(path: &Path, registry: &str) -> Result<RegistryAuth, OciError> {
    let bad = |reason: String| OciError::Auth {
        path: path.to_owned(),
        reason,
    };
    let limits = DocumentLimits::SETTINGS.named("a registry auth file");
    let text = document::read_text(path, &limits).map_err(|e| bad(e.to_string()))?;
    let config: DockerConfig =
        document::json(&text, &limits).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let Some(entry) = config
        .auths
        .iter()
        .find(|(key, _)| host_of(key) == registry)
        .map(|(_, entry)| entry)
    else {
        return Ok(RegistryAuth::Anonymous);
    };
    if let (Some(user), Some(password)) = (&entry.username, &entry.password) {
        return Ok(RegistryAuth::Basic(user.clone(), password.clone()));
    }
    let Some(auth) = &entry.auth else {
        return Ok(RegistryAuth::Anonymous);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .map_err(|e| bad(format!("auths.{registry}.auth is not base64: {e}")))?;
    let decoded = String::from_utf8(decoded)
        .map_err(|_| bad(format!("auths.{registry}.auth is not UTF-8")))?;
    let (user, password) = decoded
        .split_once(':')
        .ok_or_else(|| bad(format!("auths.{registry}.auth is not user:password")))?;
    Ok(RegistryAuth::Basic(user.to_owned(), password.to_owned()))
}

/// `https://registry.example/v1/` → `registry.example`.
fn host_of(key: &str) -> &str {
    let bare = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    bare.split('/').next().unwrap_or(bare)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_inline_auth_entry_is_matched_by_host() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        // "ci:s3cret"
        std::fs::write(
            &path,
            r#"{"auths":{"https://registry.example/v1/":{"auth":"Y2k6czNjcmV0"}},"credsStore":"desktop"}"#,
        )
        .unwrap();
        let auth = from_file(&path, "registry.example").unwrap();
        assert_eq!(
            auth,
            RegistryAuth::Basic("ci".to_owned(), "s3cret".to_owned())
        );
        assert_eq!(
            from_file(&path, "other.example").unwrap(),
            RegistryAuth::Anonymous
        );
    }

    #[test]
    fn a_broken_entry_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, r#"{"auths":{"r.example":{"auth":"!!"}}}"#).unwrap();
        let err = from_file(&path, "r.example").unwrap_err().to_string();
        assert!(
            err.contains("config.json") && err.contains("not base64"),
            "{err}"
        );
    }
}
