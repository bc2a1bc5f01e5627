//! A flow definition — `keys`, `value`, `values`, `filter`, `n`, `t`, `fs` — compiled once.
use crate::context::Context;
use crate::error::QueryError;
use crate::eval::{Evaluator, Input};
use crate::filter::{parse_filter, Filter};
use crate::key::{parse_key, parse_keys, Func, Key};

/// What a flow accumulates.
#[derive(Debug, Clone)]
pub enum Value {
    /// Frames.
    Frames,
    /// Bytes (frame length).
    Bytes,
    /// The number of distinct values of a key.
    Count(Key),
    /// The mean of a numeric key.
    Avg(Key),
    /// The sum of a numeric key (per second in a live flow; a total over a file).
    Rate(Key),
}

/// A flow definition as written, before compiling.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    /// Comma-separated keys (empty: one total).
    pub keys: String,
    /// The value: `frames`, `bytes`, `count:KEY`, `avg:KEY`, `rate:KEY`.
    pub value: String,
    /// Extra values, comma-separated.
    pub values: Vec<String>,
    /// Filter expression.
    pub filter: Option<String>,
    /// Top flows kept per data source (sFlow-RT adjusts it into 5..=20).
    pub n: usize,
    /// Smoothing time constant in seconds (clamped to 0.2..=600).
    pub t: f64,
    /// Separator between key values in a flow key.
    pub fs: String,
}

impl Default for Definition {
    fn default() -> Definition {
        Definition {
            keys: String::new(),
            value: "bytes".into(),
            values: Vec::new(),
            filter: None,
            n: 5,
            t: 2.0,
            fs: ",".into(),
        }
    }
}

/// A compiled flow definition.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The keys.
    pub keys: Vec<Key>,
    /// The value.
    pub value: Value,
    /// Extra values.
    pub values: Vec<Value>,
    /// The filter.
    pub filter: Option<Filter>,
    /// Top flows per data source.
    pub n: usize,
    /// Smoothing time constant.
    pub t: f64,
    /// Key separator.
    pub fs: String,
}

/// Parses a value: `frames`, `bytes`, or `count:`, `avg:`, `rate:` and a key.
pub fn parse_value(src: &str) -> Result<Value, QueryError> {
    crate::limits::check_length("value", src)?;
    let s = src.trim();
    let lead = src.len() - src.trim_start().len();
    match s {
        "frames" => return Ok(Value::Frames),
        "bytes" => return Ok(Value::Bytes),
        _ => {}
    }
    for (prefix, make) in
        [("count:", Value::Count as fn(Key) -> Value), ("avg:", Value::Avg), ("rate:", Value::Rate)]
    {
        if let Some(k) = s.strip_prefix(prefix) {
            return Ok(make(parse_key("value", src, k, lead + prefix.len())?));
        }
    }
    let hint = if matches!(s, "requests" | "duration") {
        format!("`{s}` comes from transaction samples, which detunnel does not receive")
    } else {
        format!("unknown value `{s}`; expected frames, bytes, count:KEY, avg:KEY or rate:KEY")
    };
    Err(QueryError::new("value", src, lead, hint))
}

impl Definition {
    /// Compiles the definition against the groups and maps of `ctx`.
    pub fn compile(&self, ctx: &Context) -> Result<Compiled, QueryError> {
        let keys = parse_keys("keys", &self.keys)?;
        for k in &keys {
            check_names(k, ctx, "keys", &self.keys)?;
        }
        let value = parse_value(&self.value)?;
        let values = self.values.iter().map(|v| parse_value(v)).collect::<Result<Vec<_>, _>>()?;
        let filter = match &self.filter {
            Some(f) if !f.trim().is_empty() => {
                let parsed = parse_filter(f)?;
                check_filter(&parsed, ctx, f)?;
                Some(parsed)
            }
            _ => None,
        };
        crate::limits::check_length("fs", &self.fs)?;
        let compiled = Compiled {
            keys,
            value,
            values,
            filter,
            n: self.n.clamp(5, 20),
            t: self.t.clamp(0.2, 600.0),
            fs: self.fs.clone(),
        };
        let memory = compiled.memory();
        if memory > crate::limits::MAX_DEFINITION_BYTES {
            return Err(QueryError::new(
                "definition",
                self.filter.as_deref().unwrap_or(&self.keys),
                0,
                format!(
                    "the definition compiles to {} KiB; the limit is {} KiB",
                    memory >> 10,
                    crate::limits::MAX_DEFINITION_BYTES >> 10
                ),
            ));
        }
        Ok(compiled)
    }
}

/// An estimate of the heap memory a key holds (its node, text and nested keys).
fn key_memory(k: &Key) -> usize {
    let node = std::mem::size_of::<Key>();
    match k {
        Key::Name { name, .. } => node + name.len(),
        Key::Literal(s) => node + s.len(),
        Key::Func(f) => {
            node + std::mem::size_of::<Func>()
                + match f.as_ref() {
                    Func::Prefix { key, delim, .. } | Func::Suffix { key, delim, .. } => {
                        key_memory(key) + delim.len()
                    }
                    Func::First { key, delim, tokens } | Func::Last { key, delim, tokens } => {
                        key_memory(key) + delim.len() + tokens.iter().map(|t| t.len() + 24).sum::<usize>()
                    }
                    Func::Mask { key, .. }
                    | Func::Bits { key, .. }
                    | Func::Range { key, .. }
                    | Func::Map { key, .. } => key_memory(key),
                    Func::Null { key, default } => key_memory(key) + default.len(),
                    Func::Or { keys } => keys.iter().map(key_memory).sum(),
                    Func::Concat { sep, keys } => sep.len() + keys.iter().map(key_memory).sum::<usize>(),
                    Func::Eq { a, b } => key_memory(a) + key_memory(b),
                    Func::If { key, value, then, otherwise } => {
                        key_memory(key) + value.len() + key_memory(then) + key_memory(otherwise)
                    }
                    Func::Group { key, groups } => {
                        key_memory(key) + groups.iter().map(|g| g.len() + 24).sum::<usize>()
                    }
                }
        }
    }
}

/// An estimate of the heap memory a filter holds, its regular expressions included.
fn filter_memory(f: &Filter) -> usize {
    use crate::filter::Alternative;
    let node = std::mem::size_of::<Filter>();
    match f {
        Filter::And(all) | Filter::Or(all) => node + all.iter().map(filter_memory).sum::<usize>(),
        Filter::Not(f) => node + filter_memory(f),
        Filter::Const(_) => node,
        Filter::Compare(c) => {
            node + key_memory(&c.key)
                + c.alternatives
                    .iter()
                    .map(|a| {
                        std::mem::size_of::<Alternative>()
                            + match a {
                                Alternative::Text(t) => t.len(),
                                Alternative::Regex(p) => p.memory(),
                                Alternative::Null | Alternative::Typed(_) => 0,
                            }
                    })
                    .sum::<usize>()
        }
    }
}

fn value_memory(v: &Value) -> usize {
    match v {
        Value::Frames | Value::Bytes => 0,
        Value::Count(k) | Value::Avg(k) | Value::Rate(k) => key_memory(k),
    }
}

/// Fails when a `group:` or `map:` key names a set the context does not have.
fn check_names(k: &Key, ctx: &Context, part: &'static str, src: &str) -> Result<(), QueryError> {
    let Key::Func(f) = k else { return Ok(()) };
    let missing = |what: &str, name: &str| {
        let at = src.find(name).unwrap_or(0);
        Err(QueryError::new(part, src, at, format!("no {what} named `{name}` is defined")))
    };
    match f.as_ref() {
        Func::Group { groups, key } => {
            if let Some(g) = groups.iter().find(|g| !ctx.has_group(g)) {
                return missing("address group", g);
            }
            check_names(key, ctx, part, src)
        }
        Func::Map { map, key } => {
            if !ctx.has_map(map) {
                return missing("map", map);
            }
            check_names(key, ctx, part, src)
        }
        Func::Prefix { key, .. }
        | Func::Suffix { key, .. }
        | Func::First { key, .. }
        | Func::Last { key, .. }
        | Func::Mask { key, .. }
        | Func::Bits { key, .. }
        | Func::Null { key, .. }
        | Func::Range { key, .. } => check_names(key, ctx, part, src),
        Func::Or { keys } | Func::Concat { keys, .. } => {
            keys.iter().try_for_each(|k| check_names(k, ctx, part, src))
        }
        Func::Eq { a, b } => check_names(a, ctx, part, src).and_then(|()| check_names(b, ctx, part, src)),
        Func::If { key, then, otherwise, .. } => {
            check_names(key, ctx, part, src)?;
            check_names(then, ctx, part, src)?;
            check_names(otherwise, ctx, part, src)
        }
    }
}

fn check_filter(f: &Filter, ctx: &Context, src: &str) -> Result<(), QueryError> {
    match f {
        Filter::And(all) | Filter::Or(all) => all.iter().try_for_each(|f| check_filter(f, ctx, src)),
        Filter::Not(a) => check_filter(a, ctx, src),
        Filter::Const(_) => Ok(()),
        Filter::Compare(c) => check_names(&c.key, ctx, "filter", src),
    }
}

impl Compiled {
    /// An estimate of the heap memory the compiled definition holds (its regular expressions
    /// with one thread's matching cache each, its keys and text): what
    /// [`crate::limits::MAX_DEFINITION_BYTES`] bounds, and what a server adds up to bound all
    /// of its definitions.
    pub fn memory(&self) -> usize {
        self.keys.iter().map(key_memory).sum::<usize>()
            + value_memory(&self.value)
            + self.values.iter().map(value_memory).sum::<usize>()
            + self.filter.as_ref().map_or(0, filter_memory)
            + self.fs.len()
    }

    /// True when the frame passes the filter (or there is none).
    pub fn accepts(&self, eval: &mut Evaluator, input: &Input<'_>, ctx: &Context) -> bool {
        self.filter.as_ref().is_none_or(|f| eval.matches(f, input, ctx))
    }

    /// Writes the flow key (key values joined by `fs`) into `out`; false when a key is missing,
    /// and then the frame belongs to no flow of this definition.
    pub fn flow_key(&self, eval: &mut Evaluator, input: &Input<'_>, ctx: &Context, out: &mut String) -> bool {
        out.clear();
        for (i, k) in self.keys.iter().enumerate() {
            if i > 0 {
                out.push_str(&self.fs);
            }
            if !eval.key(k, input, ctx, out) {
                return false;
            }
        }
        true
    }
}
