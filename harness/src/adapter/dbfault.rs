//! Database bugs the bug catalogue plants in the reference's nodes [HP-86]: a second view,
//! folded wrongly beside the honest one, which the node's database reads then answer from.
//!
//! The honest view stays registered, so what the node writes (the clock of [DB-8], the checks of
//! [DB-12]) is unchanged: only what it shows is wrong, as in an implementation whose reducers are
//! miswired.

use std::any::Any;
use std::collections::BTreeMap;

use threads::db::{DbEvent, DbRecord, DbView, Reducer};
use threads::id::LogId;

/// A database bug of the catalogue [HP-86].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbFault {
    /// Events of other peers' logs are stored but not folded: only the node's own writes show
    /// (breaks [DB-11]).
    SkipsRemoteReducers,
    /// Events are folded in the order they reached the node, not in the order of [DB-9].
    ArrivalOrder,
}

/// The name the wrong view registers under: distinct from [`threads::db::DB_VIEW`].
pub const FAULTY_VIEW: &str = "harness-faulty-db";

/// A view folded with a [`DbFault`] [HP-86].
pub struct FaultyView {
    fault: DbFault,
    /// The node's own log: its writes.
    own: LogId,
    /// Database events folded since the last reset: the clock the next one is given.
    arrived: u64,
    view: DbView,
}

impl FaultyView {
    /// An empty view of the node whose log is `own`.
    pub fn new(fault: DbFault, own: LogId) -> FaultyView {
        FaultyView {
            fault,
            own,
            arrived: 0,
            view: DbView::new(),
        }
    }

    /// What the node shows.
    pub fn view(&self) -> &DbView {
        &self.view
    }

    /// The record as the faulty fold sees it: `None` to skip it.
    fn seen(&mut self, record: &DbRecord) -> Option<DbRecord> {
        match self.fault {
            DbFault::SkipsRemoteReducers => (record.log == self.own).then(|| record.clone()),
            DbFault::ArrivalOrder => {
                let Ok(Some(event)) = DbEvent::classify(&record.body) else {
                    return Some(record.clone());
                };
                // Each event's clock is its arrival rank, so the order of DB-9 is arrival order.
                self.arrived += 1;
                let event = DbEvent::new(self.arrived, event.ops).ok()?;
                Some(DbRecord {
                    body: event.to_bytes(),
                    ..record.clone()
                })
            }
        }
    }
}

impl Reducer for FaultyView {
    fn name(&self) -> &str {
        FAULTY_VIEW
    }

    fn apply(&mut self, record: &DbRecord) {
        if let Some(record) = self.seen(record) {
            self.view.apply(&record);
        }
    }

    fn reset(&mut self) {
        self.arrived = 0;
        self.view.reset();
    }

    fn position(&self) -> u64 {
        self.view.position()
    }

    fn take_rows(&mut self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        self.view.take_rows()
    }

    fn rows(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.view.rows()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use threads::db::Op;
    use threads::sync::Peer;

    fn record(log: LogId, seq: u64, clock: u64, key: &str) -> DbRecord {
        let op = Op::Put {
            key: key.into(),
            value: threads::db::Value::Integer(clock as i64),
        };
        let body = DbEvent::new(clock, vec![op]).unwrap().to_bytes();
        DbRecord {
            cid: threads::block::cid_of(&[body.clone(), seq.to_be_bytes().to_vec()].concat()),
            log,
            seq,
            body,
        }
    }

    #[test]
    fn each_fault_shows_another_view_than_the_fold_of_db_9() {
        let (me, other) = (Peer::from_seed([1; 32]).id(), Peer::from_seed([2; 32]).id());
        // Two writes of one key: the later clock wins [DB-9], whichever arrives first.
        let records = [record(other, 1, 2, "k"), record(me, 1, 1, "k")];
        let honest = DbView::from_records(&records);
        for fault in [DbFault::SkipsRemoteReducers, DbFault::ArrivalOrder] {
            let mut faulty = FaultyView::new(fault, me);
            for r in &records {
                faulty.apply(r);
            }
            assert_ne!(faulty.view().kv(), honest.kv(), "{fault:?}");
        }
    }
}
