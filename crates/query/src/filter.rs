//! Filters: `key=v1,v2`, `key!=v`, `key~regex`, `key!~regex` joined by `&` and `|` with
//! parentheses; `null`, `true`, `false`; quoted operands; and `!` as an extension.
//!
//! Precedence: `!` binds tightest, then `&`, then `|` (so `a=1|b=2&c=3` is
//! `a=1|(b=2&c=3)`); sFlow-RT leaves this undocumented, so write the parentheses.
use crate::error::QueryError;
use crate::key::{parse_key_nested, Key};
use crate::limits;

/// A compiled filter. `&` and `|` chains are flat lists, so a long chain costs no depth.
#[derive(Debug, Clone)]
pub enum Filter {
    /// Every one.
    And(Vec<Filter>),
    /// Any one.
    Or(Vec<Filter>),
    /// Not.
    Not(Box<Filter>),
    /// A constant.
    Const(bool),
    /// A comparison.
    Compare(Compare),
}

/// `key op alternatives`.
#[derive(Debug, Clone)]
pub struct Compare {
    /// The left-hand side.
    pub key: Key,
    /// `=`/`~` (true) or `!=`/`!~` (false).
    pub positive: bool,
    /// Regular expressions rather than text.
    pub regex: bool,
    /// The right-hand side, any of which may match.
    pub alternatives: Vec<Alternative>,
}

/// One right-hand-side alternative.
#[derive(Debug, Clone)]
pub enum Alternative {
    /// `null`: the key is missing.
    Null,
    /// Text compared for equality.
    Text(String),
    /// A number, address or MAC compared with a field's value without formatting it (the
    /// text of a `Text` alternative on a plain field, parsed once).
    Typed(dissect::Value),
    /// A regular expression that must match the whole value.
    Regex(Pattern),
}

/// A compiled regular expression and the heap memory it holds.
#[derive(Debug, Clone)]
pub struct Pattern {
    regex: regex_automata::meta::Regex,
}

impl Pattern {
    /// Compiles `text` to match whole values, refusing what compiles to more than
    /// [`limits::MAX_REGEX_BYTES`].
    fn new(text: &str) -> Result<Pattern, String> {
        use regex_automata::meta::Regex;
        let config = Regex::config()
            .nfa_size_limit(Some(limits::MAX_REGEX_BYTES))
            .onepass_size_limit(Some(limits::MAX_REGEX_BYTES))
            .dfa_size_limit(Some(limits::MAX_REGEX_BYTES))
            .hybrid_cache_capacity(limits::REGEX_CACHE_BYTES);
        let regex = Regex::builder().configure(config).build(&format!("^(?:{text})$")).map_err(|e| {
            if e.size_limit().is_some() {
                format!(
                    "the regular expression compiles to more than {} KiB (the limit); use fewer or smaller repetitions",
                    limits::MAX_REGEX_BYTES >> 10
                )
            } else {
                format!("not a regular expression: {}", e.to_string().lines().last().unwrap_or(""))
            }
        })?;
        if regex.memory_usage() > limits::MAX_REGEX_BYTES {
            return Err(format!(
                "the regular expression compiles to {} KiB, more than the limit of {} KiB",
                regex.memory_usage() >> 10,
                limits::MAX_REGEX_BYTES >> 10
            ));
        }
        Ok(Pattern { regex })
    }
    /// True when the whole of `s` matches.
    pub fn is_match(&self, s: &str) -> bool {
        self.regex.is_match(s)
    }
    /// Heap memory of the compiled expression, with the matching cache one thread may grow.
    pub fn memory(&self) -> usize {
        self.regex.memory_usage() + limits::REGEX_CACHE_BYTES
    }
}

const PART: &str = "filter";

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    /// Parentheses and `!` open around the current position.
    depth: usize,
    /// Comparisons and constants so far.
    terms: usize,
}

/// Parses a filter expression, within [`limits`]: nesting, comparisons, length.
pub fn parse_filter(src: &str) -> Result<Filter, QueryError> {
    limits::check_length(PART, src)?;
    parse(src).map_err(|e| match crate::habits::bpf_hint(src) {
        Some(hint) => QueryError::new(PART, src, 0, hint),
        None => e,
    })
}

fn parse(src: &str) -> Result<Filter, QueryError> {
    let mut p = Parser { src, pos: 0, depth: 0, terms: 0 };
    p.skip_space();
    if p.pos == src.len() {
        return Err(QueryError::new(PART, src, 0, "the filter is empty"));
    }
    let f = p.or()?;
    p.skip_space();
    if p.pos < src.len() {
        let c = p.peek().unwrap_or(' ');
        let what = if c == ')' {
            "`)` without a matching `(`".to_string()
        } else {
            format!("unexpected `{c}`; expected `&`, `|` or the end")
        };
        return Err(QueryError::new(PART, src, p.pos, what));
    }
    Ok(f)
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }
    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }
    fn error(&self, at: usize, message: impl Into<String>) -> QueryError {
        QueryError::new(PART, self.src, at, message)
    }
    fn or(&mut self) -> Result<Filter, QueryError> {
        let mut terms = vec![self.and()?];
        loop {
            self.skip_space();
            if self.peek() != Some('|') {
                return Ok(if terms.len() == 1 { terms.remove(0) } else { Filter::Or(terms) });
            }
            self.pos += 1;
            if self.peek() == Some('|') {
                return Err(self.error(self.pos - 1, "`||`: the flow language writes or as one `|`"));
            }
            terms.push(self.and()?);
        }
    }
    fn and(&mut self) -> Result<Filter, QueryError> {
        let mut terms = vec![self.unary()?];
        loop {
            self.skip_space();
            if self.peek() != Some('&') {
                return Ok(if terms.len() == 1 { terms.remove(0) } else { Filter::And(terms) });
            }
            self.pos += 1;
            if self.peek() == Some('&') {
                return Err(self.error(self.pos - 1, "`&&`: the flow language writes and as one `&`"));
            }
            terms.push(self.unary()?);
        }
    }
    /// Enters a `(` or `!` at `at`, refusing nesting beyond the limit.
    fn enter(&mut self, at: usize) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > limits::MAX_NESTING {
            return Err(self.error(
                at,
                format!("the filter nests deeper than {} levels (the limit)", limits::MAX_NESTING),
            ));
        }
        Ok(())
    }
    fn unary(&mut self) -> Result<Filter, QueryError> {
        self.skip_space();
        match self.peek() {
            None => Err(self.error(self.pos, "expected a comparison such as `ipsource=10.0.0.1`")),
            Some('!') => {
                self.enter(self.pos)?;
                self.pos += 1;
                let f = Filter::Not(Box::new(self.unary()?));
                self.depth -= 1;
                Ok(f)
            }
            Some('(') => {
                let open = self.pos;
                self.enter(open)?;
                self.pos += 1;
                let f = self.or()?;
                self.depth -= 1;
                self.skip_space();
                if self.peek() != Some(')') {
                    return Err(self.error(open, "`(` is not closed by `)`"));
                }
                self.pos += 1;
                Ok(f)
            }
            Some(_) => {
                self.terms += 1;
                if self.terms > limits::MAX_COMPARISONS {
                    return Err(self.error(
                        self.pos,
                        format!(
                            "the filter has more than {} comparisons (the limit)",
                            limits::MAX_COMPARISONS
                        ),
                    ));
                }
                self.comparison()
            }
        }
    }
    fn comparison(&mut self) -> Result<Filter, QueryError> {
        let start = self.pos;
        let rest = &self.src[start..];
        for (word, value) in [("true", true), ("false", false)] {
            let after = rest.strip_prefix(word).map(str::trim_start);
            if after.is_some_and(|a| a.is_empty() || a.starts_with(['&', '|', ')'])) {
                self.pos += word.len();
                return Ok(Filter::Const(value));
            }
        }
        // The left-hand side ends at the operator, outside brackets and quotes.
        let Some((lhs_end, op_len, positive, regex)) = find_operator(rest) else {
            let word: String = rest.chars().take_while(|c| !matches!(c, '&' | '|' | ')')).collect();
            let word = word.trim_end();
            return Err(
                self.error(start + word.len(), format!("expected `=`, `!=`, `~` or `!~` after `{word}`"))
            );
        };
        let (lhs, lhs_at) = unquote(&rest[..lhs_end]);
        // C's `==` would compare with a value starting with `=` (sFlow-RT reads it so, and
        // matches nothing): refused, with the spelling meant.
        if !regex && rest[lhs_end + op_len..].starts_with('=') {
            let op = if positive { "==" } else { "!==" };
            let meant = if positive { "=" } else { "!=" };
            let value = rhs_text(&rest[lhs_end + op_len + 1..]);
            let (lhs, wireshark) = (lhs.trim(), crate::habits::wireshark_key(lhs.trim()));
            let key = crate::habits::wireshark_single_key(lhs).unwrap_or_else(|| lhs.to_string());
            let mut message = format!("`{op}`: the flow language compares with `{meant}`: write `{key}{meant}{value}` (quote a value that starts with `=`)");
            if let Some(w) = wireshark {
                message = format!("{message}; {w}");
            }
            return Err(self.error(start + lhs_end, message));
        }
        let key = parse_key_nested(PART, self.src, lhs, start + lhs_at, self.depth)?;
        let rhs_start = start + lhs_end + op_len;
        let rhs_len = rhs_extent(&self.src[rhs_start..]);
        self.pos = rhs_start + rhs_len;
        let mut alternatives = Vec::new();
        for (text, at, quoted) in split_alternatives(&self.src[rhs_start..rhs_start + rhs_len]) {
            let at = rhs_start + at;
            alternatives.push(if !quoted && text == "null" {
                Alternative::Null
            } else if regex {
                Alternative::Regex(Pattern::new(&text).map_err(|m| self.error(at, m))?)
            } else if let (Key::Name { source: crate::names::Source::Field(..), .. }, Some(v)) =
                (&key, typed(&text))
            {
                Alternative::Typed(v)
            } else {
                Alternative::Text(text)
            });
        }
        Ok(Filter::Compare(Compare { key, positive, regex, alternatives }))
    }
}

/// The value `text` names when it is a canonical number, IPv4 or IPv6 address, or MAC (so
/// that comparing values means comparing the text).
fn typed(text: &str) -> Option<dissect::Value> {
    use dissect::Value;
    if let Ok(n) = text.parse::<u64>() {
        return (n.to_string() == text).then_some(Value::Uint(n));
    }
    if let Ok(a) = text.parse::<std::net::Ipv4Addr>() {
        return Some(Value::Ipv4(dissect::field::Ipv4Addr(a.octets()))).filter(|v| v.to_string() == text);
    }
    if let Ok(a) = text.parse::<std::net::Ipv6Addr>() {
        return Some(Value::Ipv6(dissect::field::Ipv6Addr(a.octets()))).filter(|v| v.to_string() == text);
    }
    let bytes: Vec<u8> = text
        .split(':')
        .filter_map(|p| (p.len() == 2).then(|| u8::from_str_radix(p, 16).ok()).flatten())
        .collect();
    if bytes.len() == 6 && text.len() == 17 {
        let mut m = [0u8; 6];
        m.copy_from_slice(&bytes);
        return Some(Value::Mac(dissect::field::MacAddr(m))).filter(|v| v.to_string() == text);
    }
    None
}

/// Finds the comparison operator in `s`: (end of the left side, operator length, positive,
/// regex).
fn find_operator(s: &str) -> Option<(usize, usize, bool, bool)> {
    let b = s.as_bytes();
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'\'' | b'"') => quote = Some(c),
            (None, b'\\') => i += 1,
            (None, b'[') => depth += 1,
            (None, b']') => depth = depth.saturating_sub(1),
            (None, b'&' | b'|' | b')') if depth == 0 => return None,
            (None, b'!') if depth == 0 && b.get(i + 1) == Some(&b'=') => return Some((i, 2, false, false)),
            (None, b'!') if depth == 0 && b.get(i + 1) == Some(&b'~') => return Some((i, 2, false, true)),
            (None, b'=') if depth == 0 => return Some((i, 1, true, false)),
            (None, b'~') if depth == 0 => return Some((i, 1, true, true)),
            _ => {}
        }
        i += 1;
    }
    None
}

/// A right-hand side's text, for a message.
fn rhs_text(s: &str) -> &str {
    s[..rhs_extent(s)].trim()
}

/// Length of the right-hand side: up to `&`, `|` or `)` outside quotes.
fn rhs_extent(s: &str) -> usize {
    let b = s.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' => quote = Some(c),
                b'\\' => i += 1,
                b'&' | b'|' | b')' => return i,
                _ => {}
            },
        }
        i += 1;
    }
    b.len()
}

/// The comma-separated alternatives of a right-hand side: (text, offset, quoted).
fn split_alternatives(s: &str) -> Vec<(String, usize, bool)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0;
    let mut quoted = false;
    let mut quote: Option<char> = None;
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    quoted = true;
                }
                '\\' => {
                    if let Some((_, e)) = chars.next() {
                        cur.push(e);
                    }
                }
                ',' => {
                    out.push((trim_unquoted(&cur, quoted), start, quoted));
                    cur.clear();
                    quoted = false;
                    start = i + 1;
                }
                c => cur.push(c),
            },
        }
    }
    out.push((trim_unquoted(&cur, quoted), start, quoted));
    out
}

fn trim_unquoted(s: &str, quoted: bool) -> String {
    if quoted {
        s.to_string()
    } else {
        s.trim().to_string()
    }
}

/// Strips surrounding quotes from a left-hand side: (text, offset of the text).
fn unquote(s: &str) -> (&str, usize) {
    let lead = s.len() - s.trim_start().len();
    let t = s.trim();
    for q in ['\'', '"'] {
        if t.len() >= 2 && t.starts_with(q) && t.ends_with(q) {
            return (&t[1..t.len() - 1], lead + 1);
        }
    }
    (t, lead)
}
