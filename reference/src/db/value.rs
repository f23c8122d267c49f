//! Values (spec/database.md, [DB-4], [DB-16]): the DAG-CBOR data model with integers bounded to
//! ±(2^53 − 1), no floats and no links, and the total order across kinds that queries sort by.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use ipld_core::ipld::Ipld;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::malformed;
use crate::error::Result;

/// The largest integer magnitude a value may hold: 2^53 − 1, JSON's safe integers [DB-4].
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;
/// The deepest nesting of a value; a scalar is at depth 1 [DB-4].
pub const MAX_DEPTH: usize = 32;

/// A document: a map of top-level fields to values [DB-4].
pub type Document = BTreeMap<String, Value>;

/// A database value [DB-4]. `Ord` is the total order of [DB-16]; two values are equal exactly
/// when their canonical encodings are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `null`.
    Null,
    /// `false` or `true`.
    Bool(bool),
    /// An integer within ±[`MAX_SAFE_INTEGER`].
    Integer(i64),
    /// A text string.
    String(String),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A list of values.
    List(Vec<Value>),
    /// A map from text keys to values.
    Map(BTreeMap<String, Value>),
}

/// The kind of a value, in rank order [DB-4], [DB-16]; schemas list kinds by these names [DB-6].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `null`, rank 0.
    Null,
    /// `bool`, rank 1.
    Bool,
    /// `integer`, rank 2.
    Integer,
    /// `string`, rank 3.
    String,
    /// `bytes`, rank 4.
    Bytes,
    /// `list`, rank 5.
    List,
    /// `map`, rank 6.
    Map,
}

impl Kind {
    /// Every kind, in rank order [DB-16].
    pub const ALL: [Kind; 7] = [
        Kind::Null,
        Kind::Bool,
        Kind::Integer,
        Kind::String,
        Kind::Bytes,
        Kind::List,
        Kind::Map,
    ];

    /// The kind's name in a schema [DB-6].
    pub fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "bool",
            Kind::Integer => "integer",
            Kind::String => "string",
            Kind::Bytes => "bytes",
            Kind::List => "list",
            Kind::Map => "map",
        }
    }

    /// The kind a schema names; `None` for any other text [DB-6].
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The least value of this kind under [DB-16]: the lower end of its range in an index.
    pub fn least(self) -> Value {
        match self {
            Kind::Null => Value::Null,
            Kind::Bool => Value::Bool(false),
            Kind::Integer => Value::Integer(-MAX_SAFE_INTEGER),
            Kind::String => Value::String(String::new()),
            Kind::Bytes => Value::Bytes(Vec::new()),
            Kind::List => Value::List(Vec::new()),
            Kind::Map => Value::Map(BTreeMap::new()),
        }
    }

    /// The next kind in rank order, if any [DB-16].
    pub fn next(self) -> Option<Kind> {
        Kind::ALL.get(self as usize + 1).copied()
    }
}

impl Value {
    /// The value's kind [DB-4].
    pub fn kind(&self) -> Kind {
        match self {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Integer(_) => Kind::Integer,
            Value::String(_) => Kind::String,
            Value::Bytes(_) => Kind::Bytes,
            Value::List(_) => Kind::List,
            Value::Map(_) => Kind::Map,
        }
    }

    /// A value from the IPLD data model; DB_MALFORMED for floats, links, integers beyond
    /// ±(2^53 − 1) and nesting beyond [`MAX_DEPTH`] [DB-4].
    pub fn from_ipld(ipld: &Ipld) -> Result<Value> {
        Value::at_depth(ipld, 1)
    }

    fn at_depth(ipld: &Ipld, depth: usize) -> Result<Value> {
        if depth > MAX_DEPTH {
            return Err(malformed(format!("a value nests deeper than {MAX_DEPTH}")));
        }
        Ok(match ipld {
            Ipld::Null => Value::Null,
            Ipld::Bool(b) => Value::Bool(*b),
            Ipld::Integer(n) => Value::Integer(safe_integer(*n)?),
            Ipld::String(s) => Value::String(s.clone()),
            Ipld::Bytes(b) => Value::Bytes(b.clone()),
            Ipld::List(items) => Value::List(
                items
                    .iter()
                    .map(|i| Value::at_depth(i, depth + 1))
                    .collect::<Result<_>>()?,
            ),
            Ipld::Map(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), Value::at_depth(v, depth + 1)?)))
                    .collect::<Result<_>>()?,
            ),
            Ipld::Float(_) => return Err(malformed("floats are not database values")),
            Ipld::Link(_) => return Err(malformed("links are not database values")),
        })
    }

    /// The value in the IPLD data model, for encoding [DB-4].
    pub fn to_ipld(&self) -> Ipld {
        match self {
            Value::Null => Ipld::Null,
            Value::Bool(b) => Ipld::Bool(*b),
            Value::Integer(n) => Ipld::Integer(i128::from(*n)),
            Value::String(s) => Ipld::String(s.clone()),
            Value::Bytes(b) => Ipld::Bytes(b.clone()),
            Value::List(items) => Ipld::List(items.iter().map(Value::to_ipld).collect()),
            Value::Map(map) => {
                Ipld::Map(map.iter().map(|(k, v)| (k.clone(), v.to_ipld())).collect())
            }
        }
    }

    /// Any serde-serialisable Rust value, through its DAG-CBOR form; DB_MALFORMED when it is
    /// not a database value (a float, an integer beyond the bound, ...) [DB-4].
    pub fn from_serialize<T: Serialize>(value: &T) -> Result<Value> {
        let bytes = serde_ipld_dagcbor::to_vec(value)
            .map_err(|e| malformed(format!("not DAG-CBOR encodable: {e}")))?;
        let ipld: Ipld = serde_ipld_dagcbor::from_slice(&bytes)
            .map_err(|e| malformed(format!("not DAG-CBOR: {e}")))?;
        Value::from_ipld(&ipld)
    }

    /// The value read as a serde-deserialisable Rust type; DB_MALFORMED when it does not fit.
    pub fn to_deserialize<T: DeserializeOwned>(&self) -> Result<T> {
        let bytes = crate::block::encode(&self.to_ipld());
        serde_ipld_dagcbor::from_slice(&bytes)
            .map_err(|e| malformed(format!("the value does not fit the type: {e}")))
    }
}

/// An integer within ±(2^53 − 1), or DB_MALFORMED [DB-4].
fn safe_integer(n: i128) -> Result<i64> {
    if n.abs() > i128::from(MAX_SAFE_INTEGER) {
        return Err(malformed(format!("integer {n} is beyond ±(2^53 − 1)")));
    }
    // In range, so it fits an i64.
    i64::try_from(n).map_err(|_| malformed("integer out of range"))
}

/// DAG-CBOR map key order: length first, then bytewise [DB-16].
pub fn key_order(a: &str, b: &str) -> Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

fn map_entries(map: &BTreeMap<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| key_order(a.0, b.0));
    entries
}

impl Ord for Value {
    /// The total order of [DB-16]: by kind rank, then within the kind.
    fn cmp(&self, other: &Self) -> Ordering {
        use Value::*;
        match (self, other) {
            (Null, Null) => Ordering::Equal,
            (Bool(a), Bool(b)) => a.cmp(b),
            (Integer(a), Integer(b)) => a.cmp(b),
            (String(a), String(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Bytes(a), Bytes(b)) => a.cmp(b),
            // Lexicographic with a proper prefix first, which is what slices do.
            (List(a), List(b)) => a.cmp(b),
            (Map(a), Map(b)) => {
                let (a, b) = (map_entries(a), map_entries(b));
                for ((ka, va), (kb, vb)) in a.iter().zip(b.iter()) {
                    let order = key_order(ka, kb).then_with(|| va.cmp(vb));
                    if order != Ordering::Equal {
                        return order;
                    }
                }
                a.len().cmp(&b.len())
            }
            _ => self.kind().cmp(&other.kind()),
        }
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<i32> for Value {
    fn from(n: i32) -> Value {
        Value::Integer(i64::from(n))
    }
}

impl TryFrom<i64> for Value {
    type Error = crate::error::Error;
    /// DB_MALFORMED beyond ±(2^53 − 1) [DB-4].
    fn try_from(n: i64) -> Result<Value> {
        Ok(Value::Integer(safe_integer(i128::from(n))?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn map(entries: &[(&str, Value)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn kinds_order_by_rank_whatever_their_contents() {
        let ascending = [
            Value::Null,
            Value::Bool(false),
            Value::Bool(true),
            Value::Integer(-MAX_SAFE_INTEGER),
            Value::Integer(-1),
            Value::Integer(9),
            Value::Integer(10),
            Value::Integer(MAX_SAFE_INTEGER),
            Value::from(""),
            Value::from("10"),
            Value::from("9"),
            Value::from("a"),
            Value::from("ab"),
            Value::from("é"),
            Value::Bytes(vec![]),
            Value::Bytes(vec![0]),
            Value::Bytes(vec![1]),
            Value::List(vec![]),
            Value::List(vec![Value::Null]),
            Value::List(vec![Value::Null, Value::Null]),
            Value::List(vec![Value::Integer(1)]),
            map(&[]),
            // Entries in DAG-CBOR key order: this map is [("b", null), ("aa", null)].
            map(&[("aa", Value::Null), ("b", Value::Null)]),
            map(&[("b", Value::Integer(1))]),
            map(&[("b", Value::Integer(2))]),
            // "b" < "aa" in DAG-CBOR key order (length first), so a map starting with "aa" is later.
            map(&[("aa", Value::Null)]),
        ];
        for (i, a) in ascending.iter().enumerate() {
            for (j, b) in ascending.iter().enumerate() {
                assert_eq!(a.cmp(b), i.cmp(&j), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn integers_are_bounded_to_the_json_safe_range() {
        let max = i128::from(MAX_SAFE_INTEGER);
        for ok in [max, -max, 0] {
            assert_eq!(
                Value::from_ipld(&Ipld::Integer(ok)),
                Ok(Value::Integer(ok as i64))
            );
        }
        for bad in [max + 1, -max - 1, i128::from(u64::MAX)] {
            assert_eq!(
                Value::from_ipld(&Ipld::Integer(bad)).map_err(|e| e.code),
                Err(ErrorCode::DbMalformed)
            );
        }
        assert!(Value::try_from(1i64 << 53).is_err());
    }

    #[test]
    fn floats_links_and_deep_nesting_are_not_values() {
        assert!(Value::from_ipld(&Ipld::Float(1.5)).is_err());
        let link = Ipld::Link(crate::block::cid_of(b"x"));
        assert!(Value::from_ipld(&Ipld::List(vec![link])).is_err());
        let mut deep = Ipld::Null;
        for _ in 1..MAX_DEPTH {
            deep = Ipld::List(vec![deep]);
        }
        assert!(Value::from_ipld(&deep).is_ok(), "depth 32 is allowed");
        assert!(Value::from_ipld(&Ipld::List(vec![deep])).is_err());
    }

    /// Checks [DB-4]: a map is one more level of nesting, as a list is, so maps nested 32 deep
    /// (alone or mixed with lists) are values and one more map is DB_MALFORMED.
    #[test]
    fn db_4_maps_count_towards_the_nesting_limit_as_lists_do() {
        let wrap = |inner: Ipld| Ipld::Map(BTreeMap::from([("a".to_owned(), inner)]));
        let mut maps = Ipld::Null;
        let mut mixed = Ipld::Null;
        for level in 1..MAX_DEPTH {
            maps = wrap(maps);
            mixed = match level % 2 {
                0 => Ipld::List(vec![mixed]),
                _ => wrap(mixed),
            };
        }
        for (what, at_limit) in [("maps", maps), ("maps and lists", mixed)] {
            assert!(Value::from_ipld(&at_limit).is_ok(), "{what} 32 deep");
            assert_eq!(
                Value::from_ipld(&wrap(at_limit)).map_err(|e| e.code),
                Err(crate::error::ErrorCode::DbMalformed),
                "{what} 33 deep"
            );
        }
    }

    #[test]
    fn serde_types_round_trip_through_values() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Person {
            name: String,
            age: u32,
            nick: Option<String>,
        }
        let p = Person {
            name: "Ada".into(),
            age: 36,
            nick: None,
        };
        let v = Value::from_serialize(&p).expect("a value");
        assert_eq!(
            v,
            map(&[
                ("name", Value::from("Ada")),
                ("age", Value::Integer(36)),
                ("nick", Value::Null)
            ])
        );
        assert_eq!(v.to_deserialize::<Person>(), Ok(p));
        assert!(Value::from_serialize(&1.5f64).is_err());
    }
}
