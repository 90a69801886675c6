//! YAML and JSON text deserialized within a document's limits. Errors are the format's
//! own, so they carry its line and column; a spent budget is one of them, located at the
//! value where it ran out.

use serde::de::{DeserializeOwned, Error as _};

use super::counted::{Budget, Counted};
use super::limits::{DocumentLimits, show_bytes};

fn too_large(text_len: usize, limits: &DocumentLimits) -> Option<String> {
    (text_len as u64 > limits.max_bytes).then(|| {
        format!(
            "the document is {text_len} bytes, larger than {}, the most tarmac reads of {}",
            show_bytes(limits.max_bytes),
            limits.what
        )
    })
}

/// One YAML document as `T`.
pub fn yaml<T: DeserializeOwned>(
    text: &str,
    limits: &DocumentLimits,
) -> Result<T, serde_yaml::Error> {
    yaml_with(text, limits, |d| T::deserialize(d))
}

/// One YAML document, read by `read` from a counted deserializer (for readers that take a
/// deserializer rather than being `Deserialize`).
pub fn yaml_with<T>(
    text: &str,
    limits: &DocumentLimits,
    read: impl for<'b, 'l, 'de> FnOnce(
        Counted<'b, 'l, serde_yaml::Deserializer<'de>>,
    ) -> Result<T, serde_yaml::Error>,
) -> Result<T, serde_yaml::Error> {
    if let Some(message) = too_large(text.len(), limits) {
        return Err(serde_yaml::Error::custom(message));
    }
    let budget = Budget::new(limits);
    read(Counted::new(
        serde_yaml::Deserializer::from_str(text),
        &budget,
    ))
}

/// Every YAML document of a stream (`---` separated) as `T`, all within one budget.
pub fn yaml_documents<T: DeserializeOwned>(
    text: &str,
    limits: &DocumentLimits,
) -> Result<Vec<T>, serde_yaml::Error> {
    if let Some(message) = too_large(text.len(), limits) {
        return Err(serde_yaml::Error::custom(message));
    }
    let budget = Budget::new(limits);
    serde_yaml::Deserializer::from_str(text)
        .map(|document| T::deserialize(Counted::new(document, &budget)))
        .collect()
}

/// A JSON document as `T`; nothing but whitespace may follow it.
pub fn json<T: DeserializeOwned>(
    text: &str,
    limits: &DocumentLimits,
) -> Result<T, serde_json::Error> {
    json_slice(text.as_bytes(), limits)
}

/// A JSON document from bytes (a plugin's or a registry's answer).
pub fn json_slice<T: DeserializeOwned>(
    bytes: &[u8],
    limits: &DocumentLimits,
) -> Result<T, serde_json::Error> {
    if let Some(message) = too_large(bytes.len(), limits) {
        return Err(serde_json::Error::custom(message));
    }
    let budget = Budget::new(limits);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = T::deserialize(Counted::new(&mut de, &budget))?;
    de.end()?;
    Ok(value)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const SMALL: DocumentLimits = DocumentLimits {
        what: "a test document",
        max_bytes: 1 << 20,
        max_values: 1000,
        max_expanded_bytes: 10_000,
    };

    /// `count` zeros under an anchor, and a list naming it `refs` times.
    fn alias_bomb(count: usize, refs: usize) -> String {
        let zeros = vec!["0"; count].join(",");
        let aliases = vec!["*a"; refs].join(",");
        format!("anchor: &a [{zeros}]\nbomb: [{aliases}]\nnodes: []\n")
    }

    #[test]
    fn documents_within_the_limits_read_as_usual() {
        let v: serde_yaml::Value = yaml("a: &x [1, 2]\nb: *x\n", &SMALL).unwrap();
        assert_eq!(v["b"][1], serde_yaml::Value::from(2));
        let docs: Vec<BTreeMap<String, u32>> = yaml_documents("a: 1\n---\nb: 2\n", &SMALL).unwrap();
        assert_eq!(docs.len(), 2);
        let j: Vec<u8> = json("[1, 2, 3] \n", &SMALL).unwrap();
        assert_eq!(j, [1, 2, 3]);
    }

    #[test]
    fn aliases_are_counted_each_time_they_are_expanded() {
        let err = yaml::<serde_yaml::Value>(&alias_bomb(100, 100), &SMALL).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("more than 1000 values (a YAML alias counts all it repeats"),
            "{text}"
        );
        assert!(err.location().is_some(), "located: {text}");
        // The same values written out are refused as well: the count is of values, not aliases.
        let plain = format!("[{}]", vec!["0"; 1001].join(","));
        assert!(yaml::<Vec<u8>>(&plain, &SMALL).is_err());
        assert!(yaml::<Vec<u8>>(&format!("[{}]", vec!["0"; 999].join(",")), &SMALL).is_ok());
    }

    #[test]
    fn typed_and_ignored_fields_are_counted_too() {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct Doc {
            bomb: Vec<Vec<u8>>,
        }
        assert!(yaml::<Doc>(&alias_bomb(100, 100), &SMALL).is_err());
        // Skipping what a type does not name expands nothing, so it costs nothing.
        #[derive(serde::Deserialize)]
        struct Nodes {
            #[allow(dead_code)]
            nodes: Vec<u8>,
        }
        assert!(yaml::<Nodes>(&alias_bomb(100, 100), &SMALL).is_ok());
    }

    #[test]
    fn repeated_text_is_bounded_by_its_bytes() {
        let long = "x".repeat(2000);
        let text = format!("a: &s {long}\nb: [*s, *s, *s, *s, *s, *s]\n");
        let err = yaml::<serde_yaml::Value>(&text, &SMALL)
            .unwrap_err()
            .to_string();
        assert!(err.contains("more than 10000 bytes of text"), "{err}");
    }

    #[test]
    fn a_document_over_the_size_limit_is_refused_unread() {
        let limits = DocumentLimits {
            max_bytes: 10,
            ..SMALL
        };
        let err = yaml::<serde_yaml::Value>("a: 1\nb: 2\nc: 3\n", &limits).unwrap_err();
        assert!(
            err.to_string()
                .contains("the document is 15 bytes, larger than 10 bytes, the most tarmac reads of a test document"),
            "{err}"
        );
        assert!(json::<serde_json::Value>("[1,2,3,4,5,6]", &limits).is_err());
    }

    #[test]
    fn json_values_are_counted() {
        let text = format!("[{}]", vec!["{}"; 1001].join(","));
        let err = json::<serde_json::Value>(&text, &SMALL)
            .unwrap_err()
            .to_string();
        assert!(err.contains("more than 1000 values"), "{err}");
        assert!(
            json::<serde_json::Value>("[1] x", &SMALL).is_err(),
            "trailing text"
        );
    }
}
