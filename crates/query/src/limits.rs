//! Bounds on what one flow definition may cost, so that no expression can exhaust the stack,
//! the heap or the CPU of whoever compiles it (the REST API compiles what anyone sends).
//! An expression beyond a bound is refused with a [`QueryError`] that names the bound.
use crate::error::QueryError;

/// Most bytes in one part of a definition (its keys, its value or its filter).
pub const MAX_EXPRESSION_BYTES: usize = 65_536;
/// Deepest nesting of parentheses and `!` in a filter, and of `[...]` in a key.
pub const MAX_NESTING: usize = 32;
/// Most comparisons (and `true`/`false`) in one filter.
pub const MAX_COMPARISONS: usize = 1_024;
/// Most heap memory one compiled regular expression may hold.
pub const MAX_REGEX_BYTES: usize = 1 << 20;
/// The lazy DFA cache a regular expression may grow on each thread that uses it.
pub const REGEX_CACHE_BYTES: usize = 256 << 10;
/// Most memory one compiled definition may hold ([`crate::Compiled::memory`]).
pub const MAX_DEFINITION_BYTES: usize = 16 << 20;

/// Refuses `src` when it is longer than [`MAX_EXPRESSION_BYTES`].
pub(crate) fn check_length(part: &'static str, src: &str) -> Result<(), QueryError> {
    if src.len() > MAX_EXPRESSION_BYTES {
        let head: String = src.chars().take(200).collect();
        return Err(QueryError::new(
            part,
            &head,
            0,
            format!("the {part} expression is {} bytes long; the limit is {MAX_EXPRESSION_BYTES}", src.len()),
        ));
    }
    Ok(())
}
