//! The variables tarmac reads from an Ansible host or group, whichever file gave them
//! (an INI line, a YAML inventory, a group_vars/ or host_vars/ file): how to reach the
//! host (`ansible_host`, `ansible_user`, ...), its cluster address (Kubespray's `ip`,
//! `access_ip`) and the cluster's network (`kube_network_plugin`, `kube_pods_subnet`,
//! `kube_service_addresses`). Each value is checked as it is read, so an error points at
//! where it was written; every other variable is ignored.

use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::cidr_list::CidrList;
use super::node_address::NodeAddress;

/// A variable's value as its source wrote it, before tarmac gives it a meaning.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Text(String),
    Int(i64),
    Bool(bool),
    Null,
}

/// Which variables a source may set: a group_vars/ file beside a Kubespray inventory gives
/// the cluster's networks through its own reader (kubespray_group_vars.rs), so there only
/// the connection variables are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Everything,
    Connection,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnsibleVars {
    pub ansible_host: Option<NodeAddress>,
    pub ip: Option<NodeAddress>,
    pub access_ip: Option<NodeAddress>,
    pub ansible_user: Option<String>,
    pub ansible_port: Option<u16>,
    pub ansible_ssh_private_key_file: Option<String>,
    pub ansible_become: Option<bool>,
    pub ansible_connection: Option<String>,
    pub kube_network_plugin: Option<String>,
    pub kube_pods_subnet: Option<CidrList>,
    pub kube_service_addresses: Option<CidrList>,
    /// Values tarmac could not use (Jinja templates), said as warnings.
    pub left_out: Vec<String>,
}

/// The variables tarmac reads, with Ansible's older aliases (`ansible_ssh_host`, ...);
/// the plain name wins over its alias.
const NAMES: &[(&str, &str)] = &[
    ("ansible_host", "ansible_host"),
    ("ansible_ssh_host", "ansible_host"),
    ("ip", "ip"),
    ("access_ip", "access_ip"),
    ("ansible_user", "ansible_user"),
    ("ansible_ssh_user", "ansible_user"),
    ("ansible_port", "ansible_port"),
    ("ansible_ssh_port", "ansible_port"),
    (
        "ansible_ssh_private_key_file",
        "ansible_ssh_private_key_file",
    ),
    ("ansible_private_key_file", "ansible_ssh_private_key_file"),
    ("ansible_become", "ansible_become"),
    ("ansible_connection", "ansible_connection"),
    ("kube_network_plugin", "kube_network_plugin"),
    ("kube_pods_subnet", "kube_pods_subnet"),
    ("kube_service_addresses", "kube_service_addresses"),
];

const CLUSTER_VARS: [&str; 3] = [
    "kube_network_plugin",
    "kube_pods_subnet",
    "kube_service_addresses",
];

impl AnsibleVars {
    /// Whether `key` is a variable tarmac reads in `scope`.
    pub fn reads(key: &str, scope: Scope) -> bool {
        NAMES.iter().any(|(name, canonical)| {
            *name == key && (scope == Scope::Everything || !CLUSTER_VARS.contains(canonical))
        })
    }

    /// Sets `key` (ignored unless [`AnsibleVars::reads`] it) from `value`; the error says
    /// what is wrong with the value, prefixed with the key.
    pub fn set(&mut self, key: &str, value: Scalar, scope: Scope) -> Result<(), String> {
        let Some((_, canonical)) = NAMES.iter().find(|(name, _)| *name == key) else {
            return Ok(());
        };
        if !Self::reads(key, scope) || value == Scalar::Null {
            return Ok(());
        }
        let alias = key != *canonical;
        let text = match &value {
            Scalar::Text(t) => t.clone(),
            Scalar::Int(n) => n.to_string(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Null => String::new(),
        };
        if text.contains("{{") || text.contains("{%") {
            if canonical.ends_with("host") || canonical.ends_with("ip") {
                return Err(format!(
                    "{key} is a Jinja template ({text}): tarmac does not evaluate templates; \
                     write the address itself"
                ));
            }
            self.left_out.push(format!(
                "{key} is a Jinja template ({text}): tarmac does not evaluate templates, so it \
                 is not used"
            ));
            return Ok(());
        }
        let bad = |why: String| format!("{key}: {why}");
        match *canonical {
            "ansible_host" => put(&mut self.ansible_host, alias, address(&text).map_err(bad)?),
            "ip" => put(&mut self.ip, alias, address(&text).map_err(bad)?),
            "access_ip" => put(&mut self.access_ip, alias, address(&text).map_err(bad)?),
            "ansible_user" => put(&mut self.ansible_user, alias, word(&text).map_err(bad)?),
            "ansible_port" => put(&mut self.ansible_port, alias, port(&value).map_err(bad)?),
            "ansible_ssh_private_key_file" => put(
                &mut self.ansible_ssh_private_key_file,
                alias,
                path(&text).map_err(bad)?,
            ),
            "ansible_become" => put(
                &mut self.ansible_become,
                alias,
                boolean(&value).map_err(bad)?,
            ),
            "ansible_connection" => put(
                &mut self.ansible_connection,
                alias,
                word(&text).map_err(bad)?,
            ),
            "kube_network_plugin" => put(
                &mut self.kube_network_plugin,
                alias,
                word(&text).map_err(bad)?,
            ),
            "kube_pods_subnet" => put(
                &mut self.kube_pods_subnet,
                alias,
                cidrs(&text).map_err(bad)?,
            ),
            _ => put(
                &mut self.kube_service_addresses,
                alias,
                cidrs(&text).map_err(bad)?,
            ),
        }
        Ok(())
    }

    /// These variables, with every one they leave unset taken from `lower` (a source
    /// Ansible ranks below this one).
    pub fn or(&self, lower: &AnsibleVars) -> AnsibleVars {
        fn pick<T: Clone>(high: &Option<T>, low: &Option<T>) -> Option<T> {
            high.clone().or_else(|| low.clone())
        }
        AnsibleVars {
            ansible_host: pick(&self.ansible_host, &lower.ansible_host),
            ip: pick(&self.ip, &lower.ip),
            access_ip: pick(&self.access_ip, &lower.access_ip),
            ansible_user: pick(&self.ansible_user, &lower.ansible_user),
            ansible_port: pick(&self.ansible_port, &lower.ansible_port),
            ansible_ssh_private_key_file: pick(
                &self.ansible_ssh_private_key_file,
                &lower.ansible_ssh_private_key_file,
            ),
            ansible_become: pick(&self.ansible_become, &lower.ansible_become),
            ansible_connection: pick(&self.ansible_connection, &lower.ansible_connection),
            kube_network_plugin: pick(&self.kube_network_plugin, &lower.kube_network_plugin),
            kube_pods_subnet: pick(&self.kube_pods_subnet, &lower.kube_pods_subnet),
            kube_service_addresses: pick(
                &self.kube_service_addresses,
                &lower.kube_service_addresses,
            ),
            left_out: lower
                .left_out
                .iter()
                .chain(&self.left_out)
                .cloned()
                .collect(),
        }
    }

    /// Reads the variables tarmac uses in `scope` from a YAML mapping (a host's or group's
    /// `vars`, a group_vars file), so a bad value is reported at its own line and column.
    pub fn from_yaml<'de, D: Deserializer<'de>>(d: D, scope: Scope) -> Result<Self, D::Error> {
        d.deserialize_any(VarsVisitor { scope })
    }
}

/// An alias fills only what its plain name left unset.
fn put<T>(slot: &mut Option<T>, alias: bool, value: T) {
    if !(alias && slot.is_some()) {
        *slot = Some(value);
    }
}

fn address(text: &str) -> Result<NodeAddress, String> {
    text.trim().parse()
}

fn word(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "invalid value {text:?}: expected one word{}",
            trailing_comment_hint(text)
        ));
    }
    Ok(text.to_owned())
}

fn path(text: &str) -> Result<String, String> {
    if text.trim().is_empty() || text.chars().any(char::is_control) {
        return Err(format!("invalid path {text:?}: expected a file path"));
    }
    if text.contains(" #") {
        return Err(format!(
            "invalid path {text:?}: expected a file path{}",
            trailing_comment_hint(text)
        ));
    }
    Ok(text.trim().to_owned())
}

/// In an INI `:vars` section Ansible keeps `# ...` after a bare word as part of the value.
fn trailing_comment_hint(text: &str) -> &'static str {
    if text.contains('#') {
        " (in a :vars section Ansible reads a comment after a bare word as part of the \
         value: put the comment on a line of its own, or quote the value)"
    } else {
        ""
    }
}

fn port(value: &Scalar) -> Result<u16, String> {
    let number = match value {
        Scalar::Int(n) => Some(*n),
        Scalar::Text(t) => t.trim().parse::<i64>().ok(),
        _ => None,
    };
    number
        .and_then(|n| u16::try_from(n).ok())
        .filter(|p| *p > 0)
        .ok_or_else(|| {
            format!(
                "invalid port {}: expected a number from 1 to 65535",
                shown(value)
            )
        })
}

/// Ansible's `boolean()`: what `become` and other switches accept.
fn boolean(value: &Scalar) -> Result<bool, String> {
    let text = match value {
        Scalar::Bool(b) => return Ok(*b),
        Scalar::Int(1) => return Ok(true),
        Scalar::Int(0) => return Ok(false),
        Scalar::Text(t) => t.trim().to_ascii_lowercase(),
        _ => String::new(),
    };
    match text.as_str() {
        "y" | "yes" | "on" | "1" | "true" | "t" => Ok(true),
        "n" | "no" | "off" | "0" | "false" | "f" => Ok(false),
        _ => Err(format!(
            "invalid boolean {}: expected true or false (or yes/no, on/off, 1/0)",
            shown(value)
        )),
    }
}

fn cidrs(text: &str) -> Result<CidrList, String> {
    CidrList::parse(text.split(','))
}

fn shown(value: &Scalar) -> String {
    match value {
        Scalar::Text(t) => format!("{t:?}"),
        Scalar::Int(n) => n.to_string(),
        Scalar::Bool(b) => b.to_string(),
        Scalar::Null => "null".to_owned(),
    }
}

impl<'de> Deserialize<'de> for AnsibleVars {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::from_yaml(d, Scope::Everything)
    }
}

struct VarsVisitor {
    scope: Scope,
}

impl<'de> Visitor<'de> for VarsVisitor {
    type Value = AnsibleVars;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping of variables")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<AnsibleVars, E> {
        Ok(AnsibleVars::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnsibleVars, A::Error> {
        let mut vars = AnsibleVars::default();
        while let Some(key) = map.next_key::<String>()? {
            if AnsibleVars::reads(&key, self.scope) {
                map.next_value_seed(VarSeed {
                    key: &key,
                    vars: &mut vars,
                    scope: self.scope,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(vars)
    }
}

/// Sets one variable inside the value's own deserializer, so serde_yaml gives an error
/// the value's line and column.
struct VarSeed<'a> {
    key: &'a str,
    vars: &'a mut AnsibleVars,
    scope: Scope,
}

impl<'de> DeserializeSeed<'de> for VarSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl VarSeed<'_> {
    fn set<E: serde::de::Error>(self, value: Scalar) -> Result<(), E> {
        self.vars
            .set(self.key, value, self.scope)
            .map_err(E::custom)
    }
}

impl<'de> Visitor<'de> for VarSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a single value for {}", self.key)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        self.set(Scalar::Text(v.to_owned()))
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<(), E> {
        self.set(Scalar::Bool(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<(), E> {
        self.set(Scalar::Int(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<(), E> {
        self.set(i64::try_from(v).map_or_else(|_| Scalar::Text(v.to_string()), Scalar::Int))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<(), E> {
        self.set(Scalar::Text(v.to_string()))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn set(key: &str, value: Scalar) -> Result<AnsibleVars, String> {
        let mut vars = AnsibleVars::default();
        vars.set(key, value, Scope::Everything).map(|()| vars)
    }

    fn text(s: &str) -> Scalar {
        Scalar::Text(s.to_owned())
    }

    #[test]
    fn values_are_checked_by_what_they_mean() {
        assert_eq!(
            set("ansible_port", Scalar::Int(2222)).unwrap().ansible_port,
            Some(2222)
        );
        assert_eq!(
            set("ansible_port", text("22")).unwrap().ansible_port,
            Some(22)
        );
        for bad in [
            Scalar::Int(0),
            Scalar::Int(70000),
            text("ssh"),
            Scalar::Bool(true),
        ] {
            let err = set("ansible_port", bad).unwrap_err();
            assert!(err.starts_with("ansible_port: invalid port"), "{err}");
        }
        assert_eq!(
            set("ansible_become", text("yes")).unwrap().ansible_become,
            Some(true)
        );
        assert_eq!(
            set("ansible_become", Scalar::Int(0))
                .unwrap()
                .ansible_become,
            Some(false)
        );
        assert!(
            set("ansible_become", text("maybe"))
                .unwrap_err()
                .contains("invalid boolean")
        );
        assert!(
            set("ip", text("10.0.0.300"))
                .unwrap_err()
                .starts_with("ip: invalid address")
        );
        let err = set("ansible_user", text("ops # admin")).unwrap_err();
        assert!(
            err.contains("put the comment on a line of its own"),
            "{err}"
        );
        assert!(
            set("kube_pods_subnet", text("10.0.0.1/8"))
                .unwrap_err()
                .contains("host bits")
        );
        assert_eq!(
            set("unrelated", text("{{ x }}")).unwrap(),
            AnsibleVars::default()
        );
    }

    #[test]
    fn aliases_fill_only_what_the_plain_name_leaves() {
        let mut vars = AnsibleVars::default();
        vars.set("ansible_ssh_host", text("198.18.0.2"), Scope::Everything)
            .unwrap();
        vars.set("ansible_host", text("198.18.0.1"), Scope::Everything)
            .unwrap();
        vars.set("ansible_ssh_host", text("198.18.0.3"), Scope::Everything)
            .unwrap();
        assert_eq!(vars.ansible_host.unwrap().as_str(), "198.18.0.1");
    }

    #[test]
    fn templates_are_left_out_but_not_for_addresses() {
        let vars = set("ansible_user", text("{{ lookup('env', 'USER') }}")).unwrap();
        assert_eq!(vars.ansible_user, None);
        assert!(
            vars.left_out[0].contains("Jinja template"),
            "{:?}",
            vars.left_out
        );
        assert!(
            set("ansible_host", text("{{ h }}"))
                .unwrap_err()
                .contains("write the address")
        );
    }

    #[test]
    fn the_connection_scope_ignores_cluster_networks() {
        let mut vars = AnsibleVars::default();
        vars.set("kube_pods_subnet", text("not a cidr"), Scope::Connection)
            .unwrap();
        assert_eq!(vars.kube_pods_subnet, None);
    }

    #[test]
    fn yaml_errors_point_at_the_value() {
        let err = serde_yaml::from_str::<AnsibleVars>("a: 1\nansible_port: ssh\n").unwrap_err();
        let loc = err.location().unwrap();
        assert_eq!((loc.line(), loc.column()), (2, 15), "{err}");
        let vars: AnsibleVars =
            serde_yaml::from_str("ansible_user: ops\nother: [1, 2]\nansible_become: true\n")
                .unwrap();
        assert_eq!(vars.ansible_user.as_deref(), Some("ops"));
        assert_eq!(vars.ansible_become, Some(true));
    }
}
