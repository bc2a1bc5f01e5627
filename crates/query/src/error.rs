//! Errors that point at the place in an expression where it went wrong.
use std::fmt;

/// A flow definition that cannot be compiled: what was expected, where, and a suggestion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// Which part of the definition (`keys`, `value`, `filter`, ...).
    pub part: &'static str,
    /// The expression as written.
    pub source: String,
    /// Byte offset of the problem in `source`.
    pub position: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

impl QueryError {
    pub(crate) fn new(
        part: &'static str,
        source: &str,
        position: usize,
        message: impl Into<String>,
    ) -> QueryError {
        QueryError {
            part,
            source: source.to_string(),
            position: position.min(source.len()),
            message: message.into(),
        }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let column = self.source[..self.position].chars().count();
        writeln!(f, "{} at column {}: {}", self.part, column + 1, self.message)?;
        writeln!(f, "  {}", self.source)?;
        write!(f, "  {}^", " ".repeat(column))
    }
}

impl std::error::Error for QueryError {}
