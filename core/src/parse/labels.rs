//! `Map`: a map from strings kept as a sorted list, and `Labels`, the string-to-string map of
//! labels, annotations, selectors and subsets. A mesh holds several per object, most with one to
//! four entries; a `BTreeMap` allocates a node of eleven slots (over 500 bytes, over a kilobyte
//! for a header match) for even one entry, which made these maps the largest part of a loaded
//! mesh. Iteration order, lookups, `Debug` and serialisation are those of a `BTreeMap`.
//!
//! Keys and label values are `CompactString`s: most are short (`app`, `version`, `v1`) and sit
//! inside the list itself, so a selector test reads one block instead of one per string.

use compact_str::CompactString;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Map<V>(Vec<(CompactString, V)>);

/// Labels, annotations and selectors.
pub type Labels = Map<CompactString>;

impl<V> Default for Map<V> {
    fn default() -> Self {
        Map(Vec::new())
    }
}

impl<V> Map<V> {
    pub const fn new() -> Map<V> {
        Map(Vec::new())
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Sets `key`, returning the value it replaces.
    pub fn insert(&mut self, key: impl Into<CompactString>, value: impl Into<V>) -> Option<V> {
        let (key, value) = (key.into(), value.into());
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<V> {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Entries in key order.
    pub fn iter(
        &self,
    ) -> impl DoubleEndedIterator<Item = (&CompactString, &V)> + ExactSizeIterator {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &CompactString> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&CompactString, &mut V) -> bool) {
        self.0.retain_mut(|(k, v)| keep(k, v));
    }

    /// From entries in any order; a later entry for a key replaces an earlier one.
    fn from_entries(mut entries: Vec<(CompactString, V)>) -> Map<V> {
        // A stable sort keeps equal keys in input order, so the last of each run wins.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(CompactString, V)> = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = v,
                _ => out.push((k, v)),
            }
        }
        out.shrink_to_fit();
        Map(out)
    }
}

impl<V: fmt::Debug> fmt::Debug for Map<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Into<CompactString>, W: Into<V>, V> FromIterator<(K, W)> for Map<V> {
    fn from_iter<I: IntoIterator<Item = (K, W)>>(iter: I) -> Map<V> {
        Map::from_entries(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl<K: Into<CompactString>, W: Into<V>, V> Extend<(K, W)> for Map<V> {
    fn extend<I: IntoIterator<Item = (K, W)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<K: Into<CompactString>, W: Into<V>, V, const N: usize> From<[(K, W); N]> for Map<V> {
    fn from(entries: [(K, W); N]) -> Map<V> {
        Map::from_entries(
            entries
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl<'a, V> IntoIterator for &'a Map<V> {
    type Item = (&'a CompactString, &'a V);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (CompactString, V)>,
        fn(&'a (CompactString, V)) -> (&'a CompactString, &'a V),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl<V> IntoIterator for Map<V> {
    type Item = (CompactString, V);
    type IntoIter = std::vec::IntoIter<(CompactString, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<V: Serialize> Serialize for Map<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Map<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Map<V>, D::Error> {
        struct Entries<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Entries<V> {
            type Value = Map<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map with string keys")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Map<V>, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry::<CompactString, V>()? {
                    entries.push(entry);
                }
                Ok(Map::from_entries(entries))
            }
        }
        d.deserialize_map(Entries(std::marker::PhantomData))
    }
}

impl<V: PartialEq> Map<V> {
    /// Whether every entry is in `other` with the same value: how a label selector (matchLabels,
    /// a Gateway's or a subset's labels) tests a workload's labels.
    pub fn is_subset_of(&self, other: &Map<V>) -> bool {
        self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        /// A selector selects labels exactly when each of its pairs is among them.
        #[test]
        fn a_subset_is_what_a_selector_selects(
            sel in prop::collection::vec(("[a-c]", "[x-y]"), 0..4),
            labels in prop::collection::vec(("[a-d]", "[x-z]"), 0..6),
        ) {
            let s: Labels = sel.iter().cloned().collect();
            let l: Labels = labels.iter().cloned().collect();
            let want = s.iter().all(|(k, v)| labels.iter().rev().find(|(lk, _)| lk == k).map(|(_, lv)| lv.as_str()) == Some(v.as_str()));
            prop_assert_eq!(s.is_subset_of(&l), want);
        }
    }

    proptest! {
        /// Built from the same entries, a `Labels` and a `BTreeMap` agree on every lookup, on
        /// order, on `Debug` and on serialisation.
        #[test]
        fn behaves_as_a_btreemap(entries in prop::collection::vec(("[a-d]{0,2}", "[x-z]{0,2}"), 0..12), probe in "[a-d]{0,2}") {
            let l: Labels = entries.iter().cloned().collect();
            let b: BTreeMap<String, String> = entries.iter().cloned().collect();
            prop_assert_eq!(l.get(&probe).map(|v| v.as_str()), b.get(&probe).map(String::as_str));
            prop_assert_eq!(l.len(), b.len());
            prop_assert_eq!(format!("{l:?}"), format!("{b:?}"));
            prop_assert!(l.iter().map(|(k, v)| (k.as_str(), v.as_str())).eq(b.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
            prop_assert_eq!(serde_json::to_string(&l).ok(), serde_json::to_string(&b).ok());
            let mut l2 = Labels::new();
            let mut b2 = BTreeMap::new();
            for (k, v) in &entries {
                prop_assert_eq!(l2.insert(k.clone(), v.clone()).map(String::from), b2.insert(k.clone(), v.clone()));
            }
            prop_assert_eq!(l2, l);
        }
    }

    #[test]
    fn reads_a_yaml_map_and_the_last_duplicate_wins_as_in_a_btreemap() {
        let l: Labels = serde_yaml::from_str("b: '2'\na: '1'\n").expect("a map");
        assert_eq!(format!("{l:?}"), r#"{"a": "1", "b": "2"}"#);
        assert!(serde_yaml::from_str::<Labels>("- a\n").is_err());
    }
}
