//! Time for conflict resolution: a hybrid logical clock (HLC) per device, and the per-row,
//! per-column stamps the server keeps so that concurrent writes to the same column are ordered
//! the same way whichever device pushes first.
//!
//! An HLC value is milliseconds since the Unix epoch shifted left 16 bits, plus a counter in
//! the low bits: it follows wall time, never goes backwards, and is always later than any
//! value the device has seen. A [`Stamp`] pairs it with the device's site id, which breaks
//! ties, so two stamps are never equal unless they are the same write.

use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use crate::replica::literal::{format_list, parse_list};
use crate::value::Value;

/// When a write happened, and on which device: ordered by time, then by site.
pub type Stamp = (i64, i64);

/// A device's hybrid logical clock.
#[derive(Debug, Default)]
pub(crate) struct Hlc {
    last: Mutex<i64>,
}

fn wall() -> i64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    ms << 16
}

impl Hlc {
    /// A value later than every value issued or observed, and no earlier than wall time.
    pub fn tick(&self) -> i64 {
        let mut last = self.last.lock();
        *last = (*last + 1).max(wall());
        *last
    }

    /// Takes in a value seen elsewhere (a stamp on the server, the device's own outbox after a
    /// restart), so that later ticks come after it.
    pub fn observe(&self, seen: i64) {
        let mut last = self.last.lock();
        *last = (*last).max(seen);
    }
}

/// The stamps of one row on the server: when it was created or deleted, whether it is
/// deleted now (a tombstone), and when each column was last written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Clocks {
    pub row: Stamp,
    pub deleted: bool,
    pub cols: Vec<(String, Stamp)>,
}

impl Clocks {
    /// The stamp of a column; a column never stamped (written by a client that does not keep
    /// stamps, or before offline sync was used) is older than every stamped write.
    pub fn col(&self, name: &str) -> Stamp {
        self.cols
            .iter()
            .find(|(c, _)| c == name)
            .map_or(self.row, |(_, s)| *s)
    }

    pub fn set_col(&mut self, name: &str, stamp: Stamp) {
        match self.cols.iter_mut().find(|(c, _)| c == name) {
            Some((_, s)) => *s = stamp,
            None => self.cols.push((name.to_owned(), stamp)),
        }
    }

    /// The latest write to the row: its creation, deletion or any column.
    pub fn latest(&self) -> Stamp {
        self.cols.iter().map(|(_, s)| *s).fold(self.row, Stamp::max)
    }

    /// Every column of `cols` (and the row) stamped `stamp`: a row created or revived.
    pub fn created(cols: &[String], stamp: Stamp) -> Clocks {
        Clocks {
            row: stamp,
            deleted: false,
            cols: cols.iter().map(|c| (c.clone(), stamp)).collect(),
        }
    }

    /// The server's text form, a literal list: the row's stamp `hlc,site`, then for each other
    /// stamp its `hlc,site` followed by the names of the columns that have it. A column
    /// stamped like the row is left out (`col` falls back to the row's).
    pub fn format(&self) -> String {
        let mut values = vec![Value::Integer(self.row.0), Value::Integer(self.row.1)];
        let mut groups: Vec<(Stamp, Vec<&str>)> = Vec::new();
        for (name, stamp) in self.cols.iter().filter(|(_, s)| *s != self.row) {
            match groups.iter_mut().find(|(s, _)| s == stamp) {
                Some((_, names)) => names.push(name),
                None => groups.push((*stamp, vec![name])),
            }
        }
        for ((hlc, site), names) in groups {
            values.push(Value::Integer(hlc));
            values.push(Value::Integer(site));
            values.extend(names.into_iter().map(|n| Value::Text(n.to_owned())));
        }
        format_list(&values)
    }

    /// Parses [`Clocks::format`]'s text; `None` if it is not that shape.
    pub fn parse(text: &str, deleted: bool) -> Option<Clocks> {
        let mut values = parse_list(text).ok()?.into_iter().peekable();
        let mut int = || match values.next() {
            Some(Value::Integer(i)) => Some(i),
            _ => None,
        };
        let row = (int()?, int()?);
        let mut cols = Vec::new();
        loop {
            let stamp = match values.next() {
                None => break,
                Some(Value::Integer(hlc)) => match values.next() {
                    Some(Value::Integer(site)) => (hlc, site),
                    _ => return None,
                },
                Some(_) => return None,
            };
            let mut named = false;
            while let Some(Value::Text(_)) = values.peek() {
                if let Some(Value::Text(name)) = values.next() {
                    cols.push((name, stamp));
                    named = true;
                }
            }
            if !named {
                return None;
            }
        }
        Some(Clocks { row, deleted, cols })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_never_goes_back_and_passes_what_it_saw() {
        let hlc = Hlc::default();
        let a = hlc.tick();
        let b = hlc.tick();
        assert!(b > a);
        hlc.observe(b + (1 << 40));
        assert!(hlc.tick() > b + (1 << 40));
        assert!(a >= wall() - (1000 << 16));
    }

    #[test]
    fn clocks_round_trip_and_default_to_the_row() {
        let mut clocks = Clocks::created(&["a".into(), "b".into()], (10, 1));
        clocks.set_col("b", (20, 2));
        clocks.set_col("c'", (5, 3));
        let parsed = Clocks::parse(&clocks.format(), false).expect("parses");
        // `a`, stamped like the row, is left out and reads back as the row's stamp.
        assert_eq!(parsed.cols.len(), 2);
        assert_eq!(parsed.col("a"), (10, 1));
        assert_eq!(parsed.col("zz"), (10, 1));
        assert_eq!(parsed.latest(), (20, 2));
        assert_eq!(Clocks::parse("1,2,'a',3", false), None);
        assert_eq!(Clocks::parse("1,2,3,4", false), None);
        let mut same = Clocks::created(&["a".into(), "b".into()], (1, 1));
        same.set_col("a", (9, 9));
        same.set_col("b", (9, 9));
        assert_eq!(same.format(), "1,1,9,9,'a','b'");
        assert_eq!(Clocks::parse(&same.format(), false), Some(same));
        assert_eq!(Clocks::parse("'x'", false), None);
    }
}
