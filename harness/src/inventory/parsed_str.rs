//! Deserializes a string through `FromStr` inside the visitor, so serde_yaml attaches
//! the string's own line and column to a parse error (an error raised after
//! `String::deserialize` returns would point at the enclosing mapping instead).

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::Deserializer;
use serde::de::Visitor;

/// Reads a string scalar and parses it as `T`.
pub fn deserialize<'de, D, T>(d: D, expecting: &'static str) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = String>,
{
    d.deserialize_str(ParseVisitor {
        expecting,
        parsed: PhantomData,
    })
}

struct ParseVisitor<T> {
    expecting: &'static str,
    parsed: PhantomData<T>,
}

impl<T: FromStr<Err = String>> Visitor<'_> for ParseVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
}
