//! `checks.clock_skew`: how far a node's clock may drift from the others' before the
//! `clock.skew` check warns, then fails, written as durations (`500ms`, `5s`, `1m`).

use std::fmt;
use std::str::FromStr;

use serde::de::Visitor;
use serde::{Deserialize, Deserializer};

/// The section as written; absent keys take the built-in defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSkewSection {
    pub warn: Option<Millis>,
    pub fail: Option<Millis>,
}

/// A duration in milliseconds: `250ms`, `5s`, `1.5s`, `2m`, or a bare number of ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Millis(pub u64);

impl FromStr for Millis {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        let text = raw.trim();
        let bad = || {
            format!(
                "invalid duration \"{text}\": expected a number with ms, s or m, like 500ms or 5s"
            )
        };
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let factor = match unit.trim() {
            "ms" | "" => 1.0,
            "s" => 1_000.0,
            "m" | "min" => 60_000.0,
            _ => return Err(bad()),
        };
        let value: f64 = number.parse().map_err(|_| bad())?;
        let ms = (value * factor).round();
        if !(0.0..=1e15).contains(&ms) {
            return Err(bad());
        }
        // In range and rounded just above: the cast is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(Millis(ms as u64))
    }
}

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MillisVisitor)
    }
}

struct MillisVisitor;

impl Visitor<'_> for MillisVisitor {
    type Value = Millis;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration like 500ms or 5s")
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Millis, E> {
        Ok(Millis(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Millis, E> {
        u64::try_from(v)
            .map(Millis)
            .map_err(|_| E::custom(format!("invalid duration {v}: expected it not negative")))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Millis, E> {
        v.parse().map_err(E::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_unit() {
        for (text, ms) in [
            ("500ms", 500),
            ("5s", 5_000),
            ("1.5s", 1_500),
            ("2m", 120_000),
            ("750", 750),
            (" 3 s", 3_000),
        ] {
            assert_eq!(text.parse::<Millis>(), Ok(Millis(ms)), "{text}");
        }
        for bad in ["5h", "fast", "", "-1s", "1.2.3s"] {
            assert!(bad.parse::<Millis>().is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_are_milliseconds() {
        let s: ClockSkewSection = serde_yaml::from_str("{warn: 250, fail: 2s}").unwrap();
        assert_eq!((s.warn, s.fail), (Some(Millis(250)), Some(Millis(2_000))));
    }
}
