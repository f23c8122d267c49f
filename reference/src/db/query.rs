//! Queries (spec/database.md, [DB-16] to [DB-18]): the query document, matching, and the one
//! right result order; declared indexes narrow the documents examined without changing results.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::ops::Bound;

use ipld_core::ipld::Ipld;

use super::event::{Fields, check_field, check_name};
use super::fold::Collection;
use super::value::{Document, MAX_SAFE_INTEGER, Value};
use crate::block;
use crate::error::{Error, ErrorCode, Result};

/// Deepest nesting of filters [DB-17].
pub const MAX_FILTER_DEPTH: usize = 16;

/// A comparison [DB-18].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `eq`: equal by [DB-16].
    Eq,
    /// `ne`: not equal.
    Ne,
    /// `lt`: less, same kind only.
    Lt,
    /// `lte`: less or equal, same kind only.
    Lte,
    /// `gt`: greater, same kind only.
    Gt,
    /// `gte`: greater or equal, same kind only.
    Gte,
}

impl Cmp {
    fn from_name(name: &str) -> Option<Cmp> {
        Some(match name {
            "eq" => Cmp::Eq,
            "ne" => Cmp::Ne,
            "lt" => Cmp::Lt,
            "lte" => Cmp::Lte,
            "gt" => Cmp::Gt,
            "gte" => Cmp::Gte,
            _ => return None,
        })
    }

    /// Whether `x` (the document's value) matches `v` (the filter's) [DB-18].
    fn holds(self, x: &Value, v: &Value) -> bool {
        let same = x.kind() == v.kind();
        match self {
            Cmp::Eq => x == v,
            Cmp::Ne => x != v,
            Cmp::Lt => same && x < v,
            Cmp::Lte => same && x <= v,
            Cmp::Gt => same && x > v,
            Cmp::Gte => same && x >= v,
        }
    }

    /// The index range holding every match, within `v`'s kind for ordering comparisons.
    fn range(self, v: &Value) -> Option<(Bound<Value>, Bound<Value>)> {
        let low = Bound::Included(v.kind().least());
        let high = v
            .kind()
            .next()
            .map_or(Bound::Unbounded, |k| Bound::Excluded(k.least()));
        Some(match self {
            Cmp::Eq => (Bound::Included(v.clone()), Bound::Included(v.clone())),
            Cmp::Ne => return None,
            Cmp::Lt => (low, Bound::Excluded(v.clone())),
            Cmp::Lte => (low, Bound::Included(v.clone())),
            Cmp::Gt => (Bound::Excluded(v.clone()), high),
            Cmp::Gte => (Bound::Included(v.clone()), high),
        })
    }
}

/// A filter [DB-17].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// Every filter matches.
    And(Vec<Filter>),
    /// At least one filter matches.
    Or(Vec<Filter>),
    /// A field compared with a value; `_id` is the document ID.
    Cmp {
        /// A field or `_id`.
        field: String,
        /// The comparison.
        op: Cmp,
        /// The value compared with.
        value: Value,
    },
}

impl Filter {
    /// `field op value`.
    pub fn cmp(field: &str, op: Cmp, value: impl Into<Value>) -> Filter {
        Filter::Cmp {
            field: field.to_owned(),
            op,
            value: value.into(),
        }
    }

    /// `field == value`.
    pub fn eq(field: &str, value: impl Into<Value>) -> Filter {
        Filter::cmp(field, Cmp::Eq, value)
    }

    /// Whether the document matches [DB-18]; a missing field matches no comparison.
    pub fn matches(&self, id: &str, doc: &Document) -> bool {
        match self {
            Filter::And(all) => all.iter().all(|f| f.matches(id, doc)),
            Filter::Or(any) => any.iter().any(|f| f.matches(id, doc)),
            Filter::Cmp { field, op, value } => {
                field_value(id, doc, field).is_some_and(|x| op.holds(&x, value))
            }
        }
    }

    fn from_ipld(ipld: Ipld, depth: usize) -> Result<Filter> {
        if depth > MAX_FILTER_DEPTH {
            return Err(invalid("filters nest too deep"));
        }
        let mut f = Fields::new(ipld, "a filter").map_err(retag)?;
        let filter = if f.has("and") || f.has("or") {
            let and = f.has("and");
            let items = f.list(if and { "and" } else { "or" }).map_err(retag)?;
            if items.is_empty() {
                return Err(invalid("and/or lists are non-empty"));
            }
            let items = items
                .into_iter()
                .map(|i| Filter::from_ipld(i, depth + 1))
                .collect::<Result<_>>()?;
            if and {
                Filter::And(items)
            } else {
                Filter::Or(items)
            }
        } else {
            let field = query_field(f.text("field").map_err(retag)?)?;
            let op = Cmp::from_name(&f.text("op").map_err(retag)?)
                .ok_or_else(|| invalid("unknown comparison"))?;
            let value = Value::from_ipld(&f.take("value").map_err(retag)?).map_err(retag)?;
            Filter::Cmp { field, op, value }
        };
        f.finish().map_err(retag)?;
        Ok(filter)
    }
}

/// The value a filter or sort key sees: the field's, or the ID for `_id` [DB-18].
fn field_value(id: &str, doc: &Document, field: &str) -> Option<Value> {
    if field == "_id" {
        return Some(Value::String(id.to_owned()));
    }
    doc.get(field).cloned()
}

/// One sort key [DB-17].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// A field or `_id`.
    pub field: String,
    /// Descending instead of ascending.
    pub desc: bool,
}

/// A query document [DB-17].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The collection queried.
    pub coll: String,
    /// The filter; `None` matches every document.
    pub filter: Option<Filter>,
    /// Sort keys, in turn; the document ID breaks ties [DB-18].
    pub sort: Vec<SortKey>,
    /// Documents dropped from the front.
    pub skip: Option<u64>,
    /// Most documents kept.
    pub limit: Option<u64>,
}

/// A query's result and what it cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryResult {
    /// The matching (ID, document) pairs in the one right order [DB-18].
    pub docs: Vec<(String, Document)>,
    /// How many documents were examined: fewer than the collection when an index was used.
    pub examined: usize,
}

impl Query {
    /// Every document of `coll`, by ID.
    pub fn all(coll: &str) -> Query {
        Query {
            coll: coll.to_owned(),
            filter: None,
            sort: Vec::new(),
            skip: None,
            limit: None,
        }
    }

    /// With a filter.
    pub fn filter(mut self, filter: Filter) -> Query {
        self.filter = Some(filter);
        self
    }

    /// With one more sort key.
    pub fn sort(mut self, field: &str, desc: bool) -> Query {
        self.sort.push(SortKey {
            field: field.to_owned(),
            desc,
        });
        self
    }

    /// With `skip`.
    pub fn skip(mut self, skip: u64) -> Query {
        self.skip = Some(skip);
        self
    }

    /// With `limit`.
    pub fn limit(mut self, limit: u64) -> Query {
        self.limit = Some(limit);
        self
    }

    /// A query from its DAG-CBOR bytes; DB_QUERY_INVALID for anything [DB-17] forbids.
    pub fn from_bytes(bytes: &[u8]) -> Result<Query> {
        let ipld: Ipld = serde_ipld_dagcbor::from_slice(bytes)
            .map_err(|e| invalid(format!("not DAG-CBOR: {e}")))?;
        if block::encode(&ipld) != bytes {
            return Err(invalid("not canonical DAG-CBOR"));
        }
        Query::from_ipld(ipld)
    }

    fn from_ipld(ipld: Ipld) -> Result<Query> {
        let mut f = Fields::new(ipld, "a query").map_err(retag)?;
        let coll = check_name(f.text("coll").map_err(retag)?).map_err(retag)?;
        let filter = match f.has("filter") {
            true => Some(Filter::from_ipld(f.take("filter").map_err(retag)?, 1)?),
            false => None,
        };
        let mut bound = |key: &str| -> Result<Option<u64>> {
            if !f.has(key) {
                return Ok(None);
            }
            let n = f.uint(key).map_err(retag)?;
            (n <= MAX_SAFE_INTEGER as u64)
                .then_some(Some(n))
                .ok_or_else(|| invalid("skip and limit are at most 2^53 − 1"))
        };
        let (skip, limit) = (bound("skip")?, bound("limit")?);
        let sort = match f.has("sort") {
            true => f.list("sort").map_err(retag)?,
            false => Vec::new(),
        };
        let sort = sort.into_iter().map(sort_key).collect::<Result<_>>()?;
        f.finish().map_err(retag)?;
        Ok(Query {
            coll,
            filter,
            sort,
            skip,
            limit,
        })
    }

    /// The result over `coll` [DB-18]: matches, sorted, then skipped and limited.
    pub fn run(&self, coll: &Collection) -> QueryResult {
        let candidates = self.candidates(coll);
        let examined = candidates.len();
        let mut docs: Vec<(&String, &Document)> = candidates
            .into_iter()
            .filter(|(id, doc)| self.filter.as_ref().is_none_or(|f| f.matches(id, doc)))
            .collect();
        docs.sort_by(|a, b| self.order(a, b));
        let skip = usize::try_from(self.skip.unwrap_or(0)).unwrap_or(usize::MAX);
        let limit = self
            .limit
            .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        let docs = docs
            .into_iter()
            .skip(skip)
            .take(limit)
            .map(|(id, doc)| (id.clone(), doc.clone()))
            .collect();
        QueryResult { docs, examined }
    }

    /// The sort keys in turn, then the ID: a total order, so the result is unique [DB-18].
    fn order(&self, a: &(&String, &Document), b: &(&String, &Document)) -> Ordering {
        for key in &self.sort {
            // `None` (no such field) sorts before every value, after them when descending.
            let (x, y) = (
                field_value(a.0, a.1, &key.field),
                field_value(b.0, b.1, &key.field),
            );
            let order = if key.desc { y.cmp(&x) } else { x.cmp(&y) };
            if order != Ordering::Equal {
                return order;
            }
        }
        a.0.as_bytes().cmp(b.0.as_bytes())
    }

    /// The documents that may match: an index range when the filter (or a member of a top-level
    /// `and`) compares an indexed field, otherwise the whole collection (8.9).
    fn candidates<'c>(&self, coll: &'c Collection) -> Vec<(&'c String, &'c Document)> {
        let Some(ids) = self.filter.as_ref().and_then(|f| indexed(coll, f)) else {
            return coll.docs.iter().collect();
        };
        ids.into_iter()
            .filter_map(|id| coll.docs.get_key_value(id.as_str()))
            .collect()
    }
}

/// The IDs an index gives for `filter`, if it can.
fn indexed(coll: &Collection, filter: &Filter) -> Option<BTreeSet<String>> {
    match filter {
        Filter::And(all) => all.iter().find_map(|f| indexed(coll, f)),
        Filter::Cmp { field, op, value } => {
            let entries = coll.index.get(field)?;
            let range = op.range(value)?;
            Some(
                entries
                    .range(range)
                    .flat_map(|(_, ids)| ids.iter().cloned())
                    .collect(),
            )
        }
        Filter::Or(_) => None,
    }
}

fn sort_key(ipld: Ipld) -> Result<SortKey> {
    let mut f = Fields::new(ipld, "a sort key").map_err(retag)?;
    let field = query_field(f.text("field").map_err(retag)?)?;
    let desc = match f.take("desc").map_err(retag)? {
        Ipld::Bool(b) => b,
        _ => return Err(invalid("desc must be a bool")),
    };
    f.finish().map_err(retag)?;
    Ok(SortKey { field, desc })
}

fn query_field(field: String) -> Result<String> {
    if field == "_id" {
        return Ok(field);
    }
    check_field(field).map_err(retag)
}

fn invalid(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::DbQueryInvalid, detail)
}

/// A shape error inside a query is DB_QUERY_INVALID, not DB_MALFORMED [DB-17].
fn retag(e: Error) -> Error {
    Error::new(ErrorCode::DbQueryInvalid, e.detail)
}
