//! The `--filter` of `inspect` and `decap`: an sFlow-RT filter compiled once and tested on
//! each decoded frame.
use crate::cli::SetArgs;
use dissect::Decoded;
use query::{Compiled, Context, Definition, Evaluator, Input};

/// A compiled `--filter`, or none (everything passes).
pub struct Filter {
    compiled: Option<(Compiled, Context, Evaluator)>,
}

impl Filter {
    /// Compiles `expr` with the groups and maps of `sets`.
    pub fn new(expr: Option<&str>, sets: &SetArgs) -> anyhow::Result<Filter> {
        let Some(expr) = expr else { return Ok(Filter { compiled: None }) };
        let ctx = sets.context()?;
        let def = Definition { filter: Some(expr.to_string()), ..Definition::default() };
        let compiled = def.compile(&ctx)?;
        Ok(Filter { compiled: Some((compiled, ctx, Evaluator::new())) })
    }

    /// True when the frame passes.
    pub fn accepts(&mut self, decoded: &Decoded<'_>, frame_len: u32) -> bool {
        let Some((c, ctx, eval)) = &mut self.compiled else { return true };
        c.accepts(eval, &Input::new(*decoded, frame_len), ctx)
    }
}
