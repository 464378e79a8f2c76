//! A write transaction's queued writes, sent to the database as one statement.
//!
//! Writes whose only result is "it happened" (inserts, and updates of a row the transaction
//! already read) wait in a [`WriteBatch`] until the transaction next reads, commits, or runs a
//! statement whose result it needs; then they go as one statement: on SQLite the statements
//! one after another in one query string, on Postgres one data-modifying `WITH`. Each step of a
//! proposal so costs one round trip for its writes instead of one per write.
//!
//! Architecture Invariant: read-your-writes. Every statement a write transaction runs other
//! than the batch itself goes through the transaction's `conn()`, which sends the batch first;
//! so a read inside a transaction always sees the transaction's own writes.
//! Architecture Invariant: every queued write changes exactly one row; the batch checks the
//! total the database reports and fails (and so the transaction rolls back) on any other count.
//! Architecture Invariant: two queued writes never touch the same row. Postgres runs the
//! parts of a data-modifying `WITH` against one snapshot, so a second write of a row would not
//! see the first; a write of a row already queued sends the batch before it is queued.

use super::Backend;

/// Most bound values one batch carries (both backends cap the parameters of a statement;
/// Postgres at 65,535).
const MAX_VALUES: usize = 2_000;

/// A value bound to a queued write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bound {
    Text(Option<String>),
    Int(i64),
    Bool(bool),
    Float(f64),
}

impl From<f64> for Bound {
    fn from(value: f64) -> Self {
        Bound::Float(value)
    }
}

impl From<&str> for Bound {
    fn from(value: &str) -> Self {
        Bound::Text(Some(value.to_string()))
    }
}

impl From<&String> for Bound {
    fn from(value: &String) -> Self {
        Bound::Text(Some(value.clone()))
    }
}

impl From<String> for Bound {
    fn from(value: String) -> Self {
        Bound::Text(Some(value))
    }
}

impl From<Option<String>> for Bound {
    fn from(value: Option<String>) -> Self {
        Bound::Text(value)
    }
}

impl From<&Option<String>> for Bound {
    fn from(value: &Option<String>) -> Self {
        Bound::Text(value.clone())
    }
}

impl From<i64> for Bound {
    fn from(value: i64) -> Self {
        Bound::Int(value)
    }
}

impl From<bool> for Bound {
    fn from(value: bool) -> Self {
        Bound::Bool(value)
    }
}

/// One write that changes exactly one row: its SQL with placeholders `$1..$n`, its values, and
/// the row it touches (`table:key`), so two writes of one row never share a batch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Write {
    sql: String,
    values: Vec<Bound>,
    row: String,
}

impl Write {
    pub(crate) fn new(sql: impl Into<String>, table: &str, key: &str) -> Self {
        Self {
            sql: sql.into(),
            values: Vec::new(),
            row: format!("{table}:{key}"),
        }
    }

    pub(crate) fn bind(mut self, value: impl Into<Bound>) -> Self {
        self.values.push(value.into());
        self
    }
}

/// The writes a transaction has queued and not sent yet.
#[derive(Debug, Default)]
pub(crate) struct WriteBatch {
    writes: Vec<Write>,
    values: usize,
}

/// A batch ready to send: one statement, its values in placeholder order, and how many rows
/// it must change.
#[derive(Debug, PartialEq)]
pub(crate) struct Statement {
    pub sql: String,
    pub values: Vec<Bound>,
    pub rows: u64,
}

impl WriteBatch {
    /// Whether `write` must wait for the queued writes to be sent first: it touches a row one of
    /// them touches, or the batch would carry too many values.
    pub(crate) fn must_send_before(&self, write: &Write) -> bool {
        self.values + write.values.len() > MAX_VALUES
            || self.writes.iter().any(|queued| queued.row == write.row)
    }

    pub(crate) fn push(&mut self, write: Write) {
        self.values += write.values.len();
        self.writes.push(write);
    }

    /// Empty the batch into one statement for `backend`, or `None` when nothing is queued.
    pub(crate) fn take(&mut self, backend: Backend) -> Option<Statement> {
        let writes = std::mem::take(&mut self.writes);
        self.values = 0;
        let rows = writes.len() as u64;
        let mut values = Vec::new();
        let mut parts = Vec::with_capacity(writes.len());
        for write in writes {
            parts.push(renumber(&write.sql, values.len()));
            values.extend(write.values);
        }
        let sql = match (backend, parts.len()) {
            (_, 0) => return None,
            (_, 1) => parts.pop().unwrap_or_default(),
            // SQLite runs the statements of one query string in order; the reported count is
            // the sum of theirs (rows changed by triggers are not counted).
            (Backend::Sqlite, _) => parts.join(";\n"),
            // Postgres: each write is one part of a data-modifying `WITH` returning one row per
            // changed row; the outer SELECT's row count is their sum.
            (Backend::Postgres, _) => {
                let ctes = parts
                    .iter()
                    .enumerate()
                    .map(|(n, part)| format!("w{n} AS ({part} RETURNING 1)"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let union = (0..parts.len())
                    .map(|n| format!("SELECT 1 FROM w{n}"))
                    .collect::<Vec<_>>()
                    .join(" UNION ALL ");
                format!("WITH {ctes} {union}")
            }
        };
        Some(Statement { sql, values, rows })
    }
}

/// Shift every `$N` placeholder in `sql` by `offset`. brain's SQL holds `$` only in
/// placeholders (no dollar-quoted strings among the writes that are queued).
fn renumber(sql: &str, offset: usize) -> String {
    use std::fmt::Write as _;
    if offset == 0 {
        return sql.to_string();
    }
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 16);
    // `$` and ASCII digits are one byte each, so every index below is a char boundary.
    let mut copied = 0;
    let mut index = 0;
    while let Some(found) = bytes[index..].iter().position(|byte| *byte == b'$') {
        let digits = index + found + 1;
        let end = digits
            + bytes[digits..]
                .iter()
                .take_while(|byte| byte.is_ascii_digit())
                .count();
        if let Ok(number) = sql[digits..end].parse::<usize>() {
            out.push_str(&sql[copied..digits]);
            // Writing into a String cannot fail.
            let _ = write!(out, "{}", number + offset);
            copied = end;
        }
        index = end;
    }
    out.push_str(&sql[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_shift_past_the_earlier_writes() {
        assert_eq!(renumber("VALUES ($1, $2, $10)", 3), "VALUES ($4, $5, $13)");
        assert_eq!(
            renumber("SET a = $1 WHERE b = $2", 0),
            "SET a = $1 WHERE b = $2"
        );
        assert_eq!(renumber("no placeholders", 7), "no placeholders");
        assert_eq!(renumber("$ and $x, then $9", 1), "$ and $x, then $10");
        assert_eq!(renumber("é $1 ✓ $2", 2), "é $3 ✓ $4");
    }

    fn two_writes() -> WriteBatch {
        let mut batch = WriteBatch::default();
        batch.push(
            Write::new("INSERT INTO t (a, b) VALUES ($1, $2)", "t", "1")
                .bind("x")
                .bind(1_i64),
        );
        batch.push(
            Write::new("UPDATE u SET c = $1 WHERE id = $2", "u", "9")
                .bind(true)
                .bind("9"),
        );
        batch
    }

    #[test]
    fn a_sqlite_batch_is_its_statements_in_order() {
        let statement = two_writes().take(Backend::Sqlite).unwrap();
        assert_eq!(
            statement.sql,
            "INSERT INTO t (a, b) VALUES ($1, $2);\nUPDATE u SET c = $3 WHERE id = $4"
        );
        assert_eq!(statement.rows, 2);
        assert_eq!(
            statement.values,
            vec![
                Bound::from("x"),
                Bound::Int(1),
                Bound::Bool(true),
                Bound::from("9")
            ]
        );
    }

    #[test]
    fn a_postgres_batch_is_one_data_modifying_with() {
        let statement = two_writes().take(Backend::Postgres).unwrap();
        assert_eq!(
            statement.sql,
            "WITH w0 AS (INSERT INTO t (a, b) VALUES ($1, $2) RETURNING 1), \
             w1 AS (UPDATE u SET c = $3 WHERE id = $4 RETURNING 1) \
             SELECT 1 FROM w0 UNION ALL SELECT 1 FROM w1"
        );
    }

    #[test]
    fn one_write_goes_as_it_is_and_an_empty_batch_sends_nothing() {
        let mut batch = WriteBatch::default();
        assert!(batch.take(Backend::Postgres).is_none());
        batch.push(Write::new("DELETE FROM t WHERE id = $1", "t", "1").bind("1"));
        let statement = batch.take(Backend::Postgres).unwrap();
        assert_eq!(statement.sql, "DELETE FROM t WHERE id = $1");
        assert!(batch.take(Backend::Postgres).is_none());
    }

    #[test]
    fn a_second_write_of_a_row_or_too_many_values_waits() {
        let batch = two_writes();
        assert!(batch.must_send_before(&Write::new("UPDATE t SET a = $1", "t", "1").bind("y")));
        assert!(!batch.must_send_before(&Write::new("UPDATE t SET a = $1", "t", "2").bind("y")));
        let mut wide = Write::new("INSERT", "t", "3");
        for n in 0..MAX_VALUES {
            wide = wide.bind(n as i64);
        }
        assert!(batch.must_send_before(&wide));
    }
}
