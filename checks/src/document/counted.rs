//! A deserializer wrapper that charges every value it hands on, and the bytes of every
//! string, to a [`Budget`], and fails the deserialization once the budget is spent.
//!
//! It sees what the format's deserializer produces, after YAML aliases are expanded, so a
//! short document whose aliases repeat a large anchor thousands of times is stopped after
//! the budget's worth of values instead of growing to gigabytes. The charge is taken before
//! the value is handed to the visitor, so nothing proportional to the excess is allocated.

use std::cell::Cell;
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};

use super::limits::{DocumentLimits, show_bytes};

/// What one deserialization may still produce.
#[derive(Debug)]
pub struct Budget<'l> {
    limits: &'l DocumentLimits,
    values: Cell<u64>,
    bytes: Cell<u64>,
}

impl<'l> Budget<'l> {
    pub fn new(limits: &'l DocumentLimits) -> Self {
        Budget {
            limits,
            values: Cell::new(0),
            bytes: Cell::new(0),
        }
    }

    /// Values produced so far (aliases counted each time they are expanded).
    pub fn values(&self) -> u64 {
        self.values.get()
    }

    fn charge<E: de::Error>(&self, bytes: usize) -> Result<(), E> {
        let values = self.values.get() + 1;
        let bytes = self.bytes.get().saturating_add(bytes as u64);
        self.values.set(values);
        self.bytes.set(bytes);
        if values > self.limits.max_values {
            return Err(E::custom(format!(
                "the document holds more than {} values (a YAML alias counts all it repeats, each time it is used), the most tarmac reads of {}",
                self.limits.max_values, self.limits.what
            )));
        }
        if bytes > self.limits.max_expanded_bytes {
            return Err(E::custom(format!(
                "the document holds more than {} of text (a YAML alias counts all it repeats, each time it is used), the most tarmac reads of {}",
                show_bytes(self.limits.max_expanded_bytes),
                self.limits.what
            )));
        }
        Ok(())
    }
}

/// `inner`, charging what it produces to `budget`: one wrapper for every role serde has
/// (deserializer, visitor, seed, sequence, map, enum and variant access), each role's
/// impl passing the budget on to whatever `inner` hands out next.
#[derive(Debug)]
pub struct Counted<'b, 'l, T> {
    inner: T,
    budget: &'b Budget<'l>,
}

impl<'b, 'l, T> Counted<'b, 'l, T> {
    pub fn new(inner: T, budget: &'b Budget<'l>) -> Self {
        Counted { inner, budget }
    }

    /// `other`, counted against the same budget.
    fn wrap<U>(&self, other: U) -> Counted<'b, 'l, U> {
        Counted::new(other, self.budget)
    }
}

/// Forwards `deserialize_*` methods: their own arguments, then the visitor, counted.
macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*))*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            let visitor = self.wrap(visitor);
            self.inner.$method($($arg,)* visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Counted<'_, '_, D> {
    type Error = D::Error;

    forward! {
        deserialize_any() deserialize_bool() deserialize_i8() deserialize_i16()
        deserialize_i32() deserialize_i64() deserialize_i128() deserialize_u8()
        deserialize_u16() deserialize_u32() deserialize_u64() deserialize_u128()
        deserialize_f32() deserialize_f64() deserialize_char() deserialize_str()
        deserialize_string() deserialize_bytes() deserialize_byte_buf() deserialize_option()
        deserialize_unit() deserialize_seq() deserialize_map() deserialize_identifier()
        deserialize_ignored_any()
        deserialize_unit_struct(name: &'static str)
        deserialize_newtype_struct(name: &'static str)
        deserialize_tuple(len: usize)
        deserialize_tuple_struct(name: &'static str, len: usize)
        deserialize_struct(name: &'static str, fields: &'static [&'static str])
        deserialize_enum(name: &'static str, variants: &'static [&'static str])
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// The text a scalar carries, charged besides the value itself.
trait TextLen {
    fn text_len(&self) -> usize {
        0
    }
}

macro_rules! no_text {
    ($($ty:ty)*) => {$( impl TextLen for $ty {} )*};
}
no_text! { bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 }

impl TextLen for char {
    fn text_len(&self) -> usize {
        self.len_utf8()
    }
}
impl TextLen for &str {
    fn text_len(&self) -> usize {
        self.len()
    }
}
impl TextLen for String {
    fn text_len(&self) -> usize {
        self.len()
    }
}
impl TextLen for &[u8] {
    fn text_len(&self) -> usize {
        self.len()
    }
}
impl TextLen for Vec<u8> {
    fn text_len(&self) -> usize {
        self.len()
    }
}

/// Visitor methods for scalars: one value each, plus the length of text and bytes.
macro_rules! scalar {
    ($($method:ident($ty:ty))*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.budget.charge::<E>(v.text_len())?;
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Counted<'_, '_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    scalar! {
        visit_bool(bool) visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64)
        visit_i128(i128) visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64)
        visit_u128(u128) visit_f32(f32) visit_f64(f64) visit_char(char) visit_str(&str)
        visit_borrowed_str(&'de str) visit_string(String) visit_bytes(&[u8])
        visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.budget.charge::<E>(0)?;
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.budget.charge::<E>(0)?;
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        let d = self.wrap(d);
        self.inner.visit_some(d)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        let d = self.wrap(d);
        self.inner.visit_newtype_struct(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.budget.charge::<A::Error>(0)?;
        let seq = self.wrap(seq);
        self.inner.visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.budget.charge::<A::Error>(0)?;
        let map = self.wrap(map);
        self.inner.visit_map(map)
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.budget.charge::<A::Error>(0)?;
        let data = self.wrap(data);
        self.inner.visit_enum(data)
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Counted<'_, '_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        let d = self.wrap(d);
        self.inner.deserialize(d)
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Counted<'_, '_, A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        let seed = self.wrap(seed);
        self.inner.next_element_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Counted<'_, '_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let seed = self.wrap(seed);
        self.inner.next_key_seed(seed)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        let seed = self.wrap(seed);
        self.inner.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'b, 'l, 'de, A: EnumAccess<'de>> EnumAccess<'de> for Counted<'b, 'l, A> {
    type Error = A::Error;
    type Variant = Counted<'b, 'l, A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        let seed = self.wrap(seed);
        let (value, variant) = self.inner.variant_seed(seed)?;
        Ok((value, Counted::new(variant, self.budget)))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Counted<'_, '_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, A::Error> {
        let seed = self.wrap(seed);
        self.inner.newtype_variant_seed(seed)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        let visitor = self.wrap(visitor);
        self.inner.tuple_variant(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let visitor = self.wrap(visitor);
        self.inner.struct_variant(fields, visitor)
    }
}
