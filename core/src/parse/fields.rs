//! Finds the fields a document writes that its kind's API does not have.
//!
//! serde reads the fields meshsim models and skips every other key without a word, so a typo
//! (`hostss`, `prefx`), a field indented one level too deep or a field of another kind would
//! vanish, and the object would behave as if it were not written. [`Checked`] wraps a
//! deserializer: it follows the path being read (`spec.http[0].match[0]`), and inside each
//! struct that [`schema::api_fields`] lists, it notes every skipped key that is not one of the
//! API's fields meshsim leaves unread. Everything it wraps reads exactly as before; it only
//! watches, so the values read are the same with or without it.
//!
//! The API server does the same check: `kubectl apply` (strict field validation, its default)
//! refuses such an object with `strict decoding error: unknown field "spec.hostss"`, and
//! without validation the field is dropped.

use super::schema;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// The path being read and the unknown fields found so far.
#[derive(Debug, Default)]
pub struct Track {
    /// The keys of the path, one after another (each segment holds its range), then the last
    /// key read, until its value is read.
    keys: String,
    segs: Vec<Seg>,
    pub found: Vec<UnknownField>,
}

#[derive(Debug, Clone, Copy)]
enum Seg {
    Key(usize, usize),
    Index(usize),
}

/// A key that is not a field of the struct it is written in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownField {
    /// From the document's top (`["spec", "http", "0", "match", "0", "urii"]`).
    pub path: Vec<String>,
    /// The fields the struct has: the ones meshsim reads, then the ones it leaves.
    pub read: Vec<&'static str>,
    pub unread: &'static [&'static str],
}

impl UnknownField {
    /// The path as the API server writes it: `spec.http[0].match[0].urii`.
    pub fn dotted(&self) -> String {
        dotted(&self.path)
    }

    /// The field's own name.
    pub fn name(&self) -> &str {
        self.path.last().map(String::as_str).unwrap_or("")
    }

    /// The struct's field nearest to the unknown name, when one is close enough to be a typo
    /// of it (a letter or two off, or another case).
    pub fn suggestion(&self) -> Option<&'static str> {
        nearest(self.name(), self.read.iter().chain(self.unread).copied())
    }
}

/// The candidate nearest to `name`, when one is close enough to be a typo of it (a letter or
/// two off, or another case).
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    for f in candidates {
        let d = if f.eq_ignore_ascii_case(name) {
            0
        } else {
            edit_distance(&lower, &f.to_ascii_lowercase())
        };
        let limit = if f.len() <= 4 { 1 } else { 2 };
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, f));
        }
    }
    best.map(|(_, f)| f)
}

/// A path as the API server writes it: `spec.http[0].match[0].urii`.
pub fn dotted<S: AsRef<str>>(path: &[S]) -> String {
    let mut s = String::new();
    for seg in path {
        let seg = seg.as_ref();
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            s.push('[');
            s.push_str(seg);
            s.push(']');
        } else {
            if !s.is_empty() {
                s.push('.');
            }
            s.push_str(seg);
        }
    }
    s
}

/// Levenshtein distance of two short ASCII names.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diag + usize::from(ca != cb));
            diag = above;
        }
    }
    row[b.len()]
}

thread_local! {
    /// The buffers of the last document's track, so that each document does not allocate
    /// its own.
    static SPARE: std::cell::Cell<Track> = std::cell::Cell::new(Track::default());
}

impl Track {
    /// An empty track, with the buffers of this thread's previous one.
    pub fn reused() -> Track {
        SPARE.take()
    }

    /// Returns what was found, and the buffers for the thread's next document.
    pub fn give_back(mut self) -> Vec<UnknownField> {
        let found = std::mem::take(&mut self.found);
        self.keys.clear();
        self.segs.clear();
        SPARE.set(self);
        found
    }

    /// Where the path's keys end: the last key read is written after them.
    fn path_end(&self) -> usize {
        let last_key = self.segs.iter().rev().find_map(|s| match *s {
            Seg::Key(_, end) => Some(end),
            Seg::Index(_) => None,
        });
        last_key.unwrap_or(0)
    }

    /// Notes a key just read, in place of the previous one.
    fn set_key(&mut self, key: &str) {
        let end = self.path_end();
        self.keys.truncate(end);
        self.keys.push_str(key);
    }

    /// Puts the last key read on the path.
    fn push_key(&mut self) {
        let start = self.path_end();
        self.segs.push(Seg::Key(start, self.keys.len()));
    }

    fn pop(&mut self) {
        if let Some(Seg::Key(start, _)) = self.segs.pop() {
            self.keys.truncate(start);
        }
    }

    fn path(&self) -> Vec<String> {
        self.segs
            .iter()
            .map(|s| match *s {
                Seg::Key(a, b) => self.keys.get(a..b).unwrap_or("").to_string(),
                Seg::Index(i) => i.to_string(),
            })
            .collect()
    }

    /// The value of the last key of the path is being skipped by the struct `within`: a
    /// field it does not read, or an unknown one.
    fn skipped(&mut self, within: Within) {
        let Some(unread) = schema::api_fields(within.name) else {
            return;
        };
        let Some(&Seg::Key(a, b)) = self.segs.last() else {
            return;
        };
        let key = self.keys.get(a..b).unwrap_or("");
        if within.read.contains(&key) || unread.contains(&key) {
            return;
        }
        let path = self.path();
        self.found.push(UnknownField {
            path,
            read: within.read.to_vec(),
            unread,
        });
    }
}

/// The struct a value is a field of: its name and the fields it reads. Whether its API's
/// fields are known is looked up only when it skips a value, which is rare.
#[derive(Debug, Clone, Copy)]
struct Within {
    name: &'static str,
    read: &'static [&'static str],
}

/// A deserializer that notes unknown fields in `track` as it reads.
pub struct Checked<'t, D> {
    de: D,
    t: &'t mut Track,
    within: Option<Within>,
    key: bool,
}

impl<'t, D> Checked<'t, D> {
    pub fn new(de: D, t: &'t mut Track) -> Self {
        Checked {
            de,
            t,
            within: None,
            key: false,
        }
    }
}

/// A visitor that hands on wrapped maps, lists and options, and notes the keys it is given.
struct Wrap<'t, V> {
    v: V,
    t: &'t mut Track,
    within: Option<Within>,
    key: bool,
}

macro_rules! forward {
    ($($method:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.de.$method(Wrap { v: visitor, t: self.t, within: None, key: self.key })
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Checked<'_, D> {
    type Error = D::Error;

    forward!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier
    );

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.de.deserialize_unit_struct(name, wrap(visitor, self.t))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.de
            .deserialize_newtype_struct(name, wrap(visitor, self.t))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.de.deserialize_tuple(len, wrap(visitor, self.t))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.de
            .deserialize_tuple_struct(name, len, wrap(visitor, self.t))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let within = Some(Within { name, read: fields });
        self.de.deserialize_struct(
            name,
            fields,
            Wrap {
                v: visitor,
                t: self.t,
                within,
                key: false,
            },
        )
    }

    /// Enums are single words or tagged values; what is inside one is not followed.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.de.deserialize_enum(name, variants, visitor)
    }

    /// A struct skips the value of a key it has no field for: the key is checked here.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        if let Some(within) = self.within {
            self.t.skipped(within);
        }
        self.de.deserialize_ignored_any(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

fn wrap<V>(v: V, t: &mut Track) -> Wrap<'_, V> {
    Wrap {
        v,
        t,
        within: None,
        key: false,
    }
}

macro_rules! scalar {
    ($($method:ident: $ty:ty),*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            if self.key {
                self.t.set_key(&v.to_string());
            }
            self.v.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.v.expecting(f)
    }

    scalar!(
        visit_bool: bool,
        visit_i64: i64,
        visit_i128: i128,
        visit_u64: u64,
        visit_u128: u128,
        visit_f64: f64,
        visit_char: char
    );

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if self.key {
            self.t.set_key(v);
        }
        self.v.visit_str(v)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        if self.key {
            self.t.set_key(v);
        }
        self.v.visit_borrowed_str(v)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        if self.key {
            self.t.set_key(&v);
        }
        self.v.visit_string(v)
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        self.v.visit_bytes(v)
    }

    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
        self.v.visit_borrowed_bytes(v)
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Self::Value, E> {
        self.v.visit_byte_buf(v)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.v.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.v.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.v.visit_some(Checked {
            de: d,
            t: self.t,
            within: self.within,
            key: self.key,
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.v.visit_newtype_struct(Checked {
            de: d,
            t: self.t,
            within: self.within,
            key: self.key,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.v.visit_seq(Seq {
            seq,
            t: self.t,
            next: 0,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.v.visit_map(Map {
            map,
            t: self.t,
            within: self.within,
        })
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.v.visit_enum(data)
    }
}

/// A map's entries: each key is noted, and its value read with the key on the path.
struct Map<'t, A> {
    map: A,
    t: &'t mut Track,
    /// The struct the map is read into, when its fields are known.
    within: Option<Within>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Map<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.t.set_key("");
        self.map.next_key_seed(Seed {
            seed,
            t: self.t,
            within: None,
            key: true,
        })
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.t.push_key();
        let r = self.map.next_value_seed(Seed {
            seed,
            t: self.t,
            within: self.within,
            key: false,
        });
        self.t.pop();
        r
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// A list's items, each read with its index on the path.
struct Seq<'t, A> {
    seq: A,
    t: &'t mut Track,
    next: usize,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Seq<'_, A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        self.t.segs.push(Seg::Index(self.next));
        self.next += 1;
        let r = self.seq.next_element_seed(Seed {
            seed,
            t: self.t,
            within: None,
            key: false,
        });
        self.t.pop();
        r
    }

    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
}

/// Hands a wrapped deserializer to a seed.
struct Seed<'t, S> {
    seed: S,
    t: &'t mut Track,
    within: Option<Within>,
    key: bool,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Checked {
            de: d,
            t: self.t,
            within: self.within,
            key: self.key,
        })
    }
}

impl Track {
    /// Puts `key` on the path, for a value read through a [`Checked`] of its own.
    pub fn enter(&mut self, key: &str) {
        self.set_key(key);
        self.push_key();
    }

    /// Takes the last key off the path.
    pub fn leave(&mut self) {
        self.pop();
    }
}

/// Reads a `T` at `key` of the document through a [`Checked`].
pub struct CheckedSeed<'t, T> {
    t: &'t mut Track,
    key: &'static str,
    of: std::marker::PhantomData<T>,
}

impl<'t, T> CheckedSeed<'t, T> {
    pub fn new(t: &'t mut Track, key: &'static str) -> Self {
        CheckedSeed {
            t,
            key,
            of: std::marker::PhantomData,
        }
    }
}

impl<'de, T: serde::Deserialize<'de>> DeserializeSeed<'de> for CheckedSeed<'_, T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        self.t.enter(self.key);
        let r = T::deserialize(Checked::new(d, &mut *self.t));
        self.t.leave();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::types::VirtualServiceSpec;
    use proptest::prelude::*;
    use serde::Deserialize;
    use serde_yaml::Value;

    fn unknown(path: &[&str]) -> UnknownField {
        UnknownField {
            path: path.iter().map(|s| s.to_string()).collect(),
            read: vec!["uri", "headers", "port"],
            unread: &["statPrefix"],
        }
    }

    #[test]
    fn paths_read_as_the_api_server_writes_them() {
        assert_eq!(
            unknown(&["spec", "http", "0", "match", "12", "urii"]).dotted(),
            "spec.http[0].match[12].urii"
        );
        assert_eq!(unknown(&["spc"]).dotted(), "spc");
    }

    #[test]
    fn a_near_name_is_suggested_and_a_far_one_is_not() {
        assert_eq!(unknown(&["urii"]).suggestion(), Some("uri"));
        assert_eq!(unknown(&["URI"]).suggestion(), Some("uri"));
        assert_eq!(unknown(&["heders"]).suggestion(), Some("headers"));
        assert_eq!(unknown(&["statprefix"]).suggestion(), Some("statPrefix"));
        assert_eq!(unknown(&["prt"]).suggestion(), Some("port"));
        assert_eq!(
            unknown(&["pt"]).suggestion(),
            None,
            "two letters off a four-letter name"
        );
        assert_eq!(unknown(&["weight"]).suggestion(), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    /// A VirtualService's spec with a mapping at each of these places, each a struct whose
    /// fields are checked.
    const SPEC: &str = "
hosts: [a]
http:
- match:
  - uri: {prefix: /a}
    headers: {x-a: {exact: b}}
  route:
  - destination: {host: a, subset: v1, port: {number: 80}}
    weight: 90
    headers: {request: {set: {x-b: c}}}
  rewrite: {uri: /b}
  retries: {attempts: 2}
  fault: {abort: {httpStatus: 500, percentage: {value: 10}}}
- redirect: {uri: /c, redirectCode: 302}
tcp:
- match: [{port: 9000}]
  route: [{destination: {host: t}}]
";

    const PLACES: &[&[&str]] = &[
        &[],
        &["http", "0"],
        &["http", "0", "match", "0"],
        &["http", "0", "match", "0", "uri"],
        &["http", "0", "route", "0"],
        &["http", "0", "route", "0", "destination"],
        &["http", "0", "route", "0", "destination", "port"],
        &["http", "0", "route", "0", "headers"],
        &["http", "0", "route", "0", "headers", "request"],
        &["http", "0", "rewrite"],
        &["http", "0", "retries"],
        &["http", "0", "fault"],
        &["http", "0", "fault", "abort"],
        &["http", "0", "fault", "abort", "percentage"],
        &["http", "1"],
        &["http", "1", "redirect"],
        &["tcp", "0"],
        &["tcp", "0", "match", "0"],
        &["tcp", "0", "route", "0", "destination"],
    ];

    fn at<'v>(v: &'v mut Value, path: &[&str]) -> &'v mut Value {
        path.iter().fold(v, |v, seg| match seg.parse::<usize>() {
            Ok(i) => &mut v[i],
            Err(_) => &mut v[*seg],
        })
    }

    proptest! {
        /// Whatever unknown keys are written at whatever places, reading through `Checked`
        /// gives what serde gives without it and without those keys, and finds exactly those
        /// keys, each with its path.
        #[test]
        fn checked_reads_the_same_values_and_finds_exactly_the_keys_added(
            places in proptest::collection::btree_set(0..PLACES.len(), 0..6),
            value in prop_oneof![Just("1"), Just("[a, b]"), Just("{c: d}"), Just("null")],
        ) {
            let clean: Value = serde_yaml::from_str(SPEC).unwrap();
            let mut doc = clean.clone();
            let mut expected = Vec::new();
            for &p in &places {
                let key = format!("zz{p}");
                let target = at(&mut doc, PLACES[p]);
                let Value::Mapping(m) = target else { panic!("{:?} is a mapping", PLACES[p]) };
                m.insert(Value::from(key.as_str()), serde_yaml::from_str(value).unwrap());
                let mut path: Vec<String> = PLACES[p].iter().map(|s| s.to_string()).collect();
                path.push(key);
                expected.push(path);
            }
            let plain: VirtualServiceSpec = serde_yaml::from_value(clean).unwrap();
            let text = serde_yaml::to_string(&doc).unwrap();
            let mut t = Track::default();
            let checked = VirtualServiceSpec::deserialize(Checked::new(
                serde_yaml::Deserializer::from_str(&text),
                &mut t,
            ))
            .unwrap();
            prop_assert_eq!(&checked, &plain);
            let mut found: Vec<Vec<String>> = t.found.iter().map(|f| f.path.clone()).collect();
            found.sort();
            expected.sort();
            prop_assert_eq!(found, expected);
            prop_assert!(t.segs.is_empty() && t.keys.is_empty(), "the path is left empty");
        }
    }
}
