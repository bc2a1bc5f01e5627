//! A pipeline's filter (and `inspect`'s): an sFlow-RT filter compiled once and tested on each
//! decoded frame, outer and inner fields alike.
use dissect::Decoded;
use query::{Compiled, Context, Definition, Evaluator, Input, QueryError};

/// A compiled filter, or none (everything passes).
pub struct Filter {
    compiled: Option<(Compiled, Context, Evaluator)>,
}

impl Filter {
    /// Compiles `expr` against the groups and maps of `ctx`.
    pub fn new(expr: Option<&str>, ctx: &Context) -> Result<Filter, QueryError> {
        let Some(expr) = expr else { return Ok(Filter { compiled: None }) };
        let def = Definition { filter: Some(expr.to_string()), ..Definition::default() };
        let compiled = def.compile(ctx)?;
        Ok(Filter { compiled: Some((compiled, ctx.clone(), Evaluator::new())) })
    }

    /// True when the frame passes.
    pub fn accepts(&mut self, decoded: &Decoded<'_>, frame_len: u32) -> bool {
        let Some((c, ctx, eval)) = &mut self.compiled else { return true };
        c.accepts(eval, &Input::new(*decoded, frame_len), ctx)
    }
}
