//! Flow keys: field names with depth suffixes and sFlow-RT's key functions
//! (`prefix:stack:.:5`, `group:ipsource:ddos`, ...), nested with `[...]`, with `\` escaping
//! a `:` or `,` inside an argument.
use crate::error::QueryError;
use crate::limits;
use crate::names::{self, Source};

/// A key expression.
#[derive(Debug, Clone)]
pub enum Key {
    /// A field, `stack` or `bytes`.
    Name {
        /// The name as written.
        name: String,
        /// Where its value comes from.
        source: Source,
    },
    /// A constant (an argument that names no key).
    Literal(String),
    /// A key function.
    Func(Box<Func>),
}

/// A key function and its arguments; each variant's fields are its arguments in the order
/// sFlow-RT's syntax writes them.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub enum Func {
    /// First `n` tokens of `key` split by `delim`.
    Prefix { key: Key, delim: String, n: usize },
    /// Last `n` tokens.
    Suffix { key: Key, delim: String, n: usize },
    /// The first of `tokens` found among `key`'s tokens, scanning left to right.
    First { key: Key, delim: String, tokens: Vec<String> },
    /// The same, scanning right to left.
    Last { key: Key, delim: String, tokens: Vec<String> },
    /// The address with a prefix mask of `bits` applied.
    Mask { key: Key, bits: u8 },
    /// The number ANDed with `mask`.
    Bits { key: Key, mask: u64 },
    /// `default` when `key` is missing.
    Null { key: Key, default: String },
    /// The first key that is present.
    Or { keys: Vec<Key> },
    /// `true` when both are present and equal, else `false`.
    Eq { a: Key, b: Key },
    /// `true` when `lo <= key <= hi` (no upper bound when `hi` is missing).
    Range { key: Key, lo: f64, hi: Option<f64> },
    /// `then` when `key` equals `value`, else `otherwise`.
    If { key: Key, value: String, then: Key, otherwise: Key },
    /// The keys joined by `sep`.
    Concat { sep: String, keys: Vec<Key> },
    /// The label of the first named address group whose prefixes hold `key`.
    Group { key: Key, groups: Vec<String> },
    /// The label of the named map's entry that lists `key`'s value.
    Map { key: Key, map: String },
}

/// Functions sFlow-RT has that need data detunnel does not ship, with what that data is.
const REFUSED: &[(&str, &str)] = &[
    ("country", "a GeoIP country database"),
    ("asn", "an AS number database"),
    ("dns", "reverse DNS lookups"),
    ("host", "Host sFlow data"),
    ("oui", "the IEEE OUI registry"),
    ("uri", "HTTP transaction samples"),
    ("link", "a network topology"),
];

/// Function names accepted.
pub const FUNCTIONS: &[&str] = &[
    "prefix", "suffix", "first", "last", "mask", "bits", "null", "or", "eq", "range", "if", "concat",
    "group", "map",
];

/// A piece of an expression split at top-level separators: its text (escapes removed unless
/// bracketed) and where it starts.
#[derive(Debug, Clone)]
struct Token {
    text: String,
    at: usize,
    bracketed: bool,
}

/// Splits `s` at `sep` outside brackets and quotes, removing `\` escapes outside brackets.
fn split_top(
    part: &'static str,
    src: &str,
    s: &str,
    base: usize,
    sep: char,
) -> Result<Vec<Token>, QueryError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = base;
    let mut depth = 0usize;
    let mut chars = s.char_indices().peekable();
    let mut bracketed = false;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if depth == 0 => match chars.next() {
                Some((_, e)) => cur.push(e),
                None => return Err(QueryError::new(part, src, base + i, "a `\\` must escape a character")),
            },
            '[' => {
                if depth == 0 && cur.is_empty() {
                    bracketed = true;
                }
                depth += 1;
                cur.push(c);
            }
            ']' => {
                if depth == 0 {
                    return Err(QueryError::new(part, src, base + i, "`]` without a matching `[`"));
                }
                depth -= 1;
                cur.push(c);
            }
            c if c == sep && depth == 0 => {
                out.push(Token { text: std::mem::take(&mut cur), at: start, bracketed });
                bracketed = false;
                start = base + i + c.len_utf8();
            }
            c => cur.push(c),
        }
    }
    if depth != 0 {
        return Err(QueryError::new(part, src, base + s.len(), "`[` is not closed by `]`"));
    }
    out.push(Token { text: cur, at: start, bracketed });
    Ok(out)
}

/// Splits a comma-separated list of keys (`\,` escapes a comma) and parses each.
pub fn parse_keys(part: &'static str, src: &str) -> Result<Vec<Key>, QueryError> {
    limits::check_length(part, src)?;
    if src.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut keys = Vec::new();
    for t in split_keys(src) {
        keys.push(parse_key(part, src, &t.0, t.1)?);
    }
    Ok(keys)
}

/// The comma-separated pieces of a key list with their offsets (escapes kept).
fn split_keys(src: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0;
    let mut depth = 0usize;
    let mut chars = src.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                cur.push(c);
                if let Some((_, e)) = chars.next() {
                    cur.push(e);
                }
            }
            '[' => {
                depth += 1;
                cur.push(c);
            }
            ']' => {
                depth = depth.saturating_sub(1);
                cur.push(c);
            }
            ',' if depth == 0 => {
                out.push((std::mem::take(&mut cur), start));
                start = i + 1;
            }
            c => cur.push(c),
        }
    }
    out.push((cur, start));
    out
}

/// Parses one key expression written at `at` in `src`.
pub fn parse_key(part: &'static str, src: &str, text: &str, at: usize) -> Result<Key, QueryError> {
    limits::check_length(part, src)?;
    parse_key_nested(part, src, text, at, 0)
}

/// Parses a key expression that sits inside `depth` brackets (or filter parentheses),
/// refusing nesting beyond [`limits::MAX_NESTING`].
pub(crate) fn parse_key_nested(
    part: &'static str,
    src: &str,
    text: &str,
    at: usize,
    depth: usize,
) -> Result<Key, QueryError> {
    if depth > limits::MAX_NESTING {
        return Err(QueryError::new(
            part,
            src,
            at,
            format!("the key nests deeper than {} levels (the limit)", limits::MAX_NESTING),
        ));
    }
    let lead = text.len() - text.trim_start().len();
    let text_trim = text.trim();
    let at = at + lead;
    if text_trim.is_empty() {
        return Err(QueryError::new(part, src, at, "expected a key"));
    }
    let tokens = split_top(part, src, text_trim, at, ':')?;
    if tokens.len() == 1 {
        let t = &tokens[0];
        if t.bracketed {
            return parse_bracketed(part, src, t, depth);
        }
        return match names::resolve(&t.text) {
            Ok(source) => Ok(Key::Name { name: t.text.clone(), source }),
            Err(message) => Err(QueryError::new(part, src, t.at, message)),
        };
    }
    let name = tokens[0].text.as_str();
    if let Some((_, data)) = REFUSED.iter().find(|(f, _)| *f == name) {
        return Err(QueryError::new(
            part,
            src,
            tokens[0].at,
            format!("the key function `{name}` needs {data}, which detunnel does not have"),
        ));
    }
    let args = &tokens[1..];
    let key = |i: usize| arg_key(part, src, &args[i], depth);
    let lit = |i: usize| args[i].text.clone();
    let need = |min: usize, max: Option<usize>, shape: &str| -> Result<(), QueryError> {
        if args.len() < min || max.is_some_and(|m| args.len() > m) {
            return Err(QueryError::new(part, src, tokens[0].at, format!("`{name}` takes {shape}")));
        }
        Ok(())
    };
    let number = |i: usize| -> Result<f64, QueryError> {
        args[i].text.trim().parse::<f64>().map_err(|_| {
            QueryError::new(part, src, args[i].at, format!("`{}` is not a number", args[i].text))
        })
    };
    let count =
        |i: usize| -> Result<usize, QueryError> {
            args[i].text.trim().parse::<usize>().map_err(|_| {
                QueryError::new(part, src, args[i].at, format!("`{}` is not a count", args[i].text))
            })
        };
    let func = match name {
        "prefix" | "suffix" => {
            need(3, Some(3), "a key, a delimiter and a count: prefix:stack:.:3")?;
            let (key, delim, n) = (key(0)?, lit(1), count(2)?);
            if name == "prefix" {
                Func::Prefix { key, delim, n }
            } else {
                Func::Suffix { key, delim, n }
            }
        }
        "first" | "last" => {
            need(3, None, "a key, a delimiter and tokens: first:stack:.:ip:ip6")?;
            let (key, delim) = (key(0)?, lit(1));
            let tokens = args[2..].iter().map(|t| t.text.clone()).collect();
            if name == "first" {
                Func::First { key, delim, tokens }
            } else {
                Func::Last { key, delim, tokens }
            }
        }
        "mask" => {
            need(2, Some(2), "a key and a prefix length: mask:ipsource:24")?;
            let bits = args[1].text.trim().parse::<u8>().ok().filter(|b| *b <= 128);
            let bits = bits.ok_or_else(|| {
                QueryError::new(part, src, args[1].at, "expected a prefix length from 0 to 128")
            })?;
            Func::Mask { key: key(0)?, bits }
        }
        "bits" => {
            need(2, Some(2), "a key and a mask: bits:ip6flowlabel:261884")?;
            let m = args[1].text.trim();
            let mask = match m.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16),
                None => m.parse(),
            }
            .map_err(|_| QueryError::new(part, src, args[1].at, format!("`{m}` is not a mask")))?;
            Func::Bits { key: key(0)?, mask }
        }
        "null" => {
            need(2, Some(2), "a key and a default: null:vlan:undefined")?;
            Func::Null { key: key(0)?, default: lit(1) }
        }
        "or" => {
            need(2, None, "two or more keys: or:tcpsourceport:udpsourceport")?;
            Func::Or { keys: (0..args.len()).map(key).collect::<Result<_, _>>()? }
        }
        "eq" => {
            need(2, Some(2), "two keys: eq:bgpsourceas:bgpas")?;
            Func::Eq { a: key(0)?, b: key(1)? }
        }
        "range" => {
            need(2, Some(3), "a key, a lower and an optional upper bound: range:bytes:65:127")?;
            let hi = if args.len() == 3 { Some(number(2)?) } else { None };
            Func::Range { key: key(0)?, lo: number(1)?, hi }
        }
        "if" => {
            need(4, Some(4), "a key, a value, a key if equal and a key if not: if:[first:stack:.:ip:ip6]:ip:ipsource:ip6source")?;
            Func::If { key: key(0)?, value: lit(1), then: key(2)?, otherwise: key(3)? }
        }
        "concat" => {
            need(2, None, "a separator and keys: concat:-:ipsource:ipdestination")?;
            Func::Concat { sep: lit(0), keys: (1..args.len()).map(key).collect::<Result<_, _>>()? }
        }
        "group" => {
            need(2, None, "a key and group names: group:ipsource:ddos_protect")?;
            Func::Group { key: key(0)?, groups: args[1..].iter().map(|t| t.text.clone()).collect() }
        }
        "map" => {
            need(2, Some(2), "a key and a map name: map:macsource:ix_member")?;
            Func::Map { key: key(0)?, map: lit(1) }
        }
        other => {
            let hint = match names::suggest(other, FUNCTIONS.iter().copied()) {
                Some(s) => format!("unknown key function `{other}`; did you mean `{s}`?"),
                None => format!("unknown key function `{other}`; known: {}", FUNCTIONS.join(", ")),
            };
            return Err(QueryError::new(part, src, tokens[0].at, hint));
        }
    };
    Ok(Key::Func(Box::new(func)))
}

fn parse_bracketed(part: &'static str, src: &str, t: &Token, depth: usize) -> Result<Key, QueryError> {
    let inner = t.text.trim();
    if !inner.ends_with(']') {
        return Err(QueryError::new(part, src, t.at, "text after `]`"));
    }
    parse_key_nested(part, src, &inner[1..inner.len() - 1], t.at + 1, depth + 1)
}

/// An argument in key position: a bracketed expression, a key name, or else a literal.
fn arg_key(part: &'static str, src: &str, t: &Token, depth: usize) -> Result<Key, QueryError> {
    if t.bracketed {
        return parse_bracketed(part, src, t, depth);
    }
    match names::resolve(&t.text) {
        Ok(source) => Ok(Key::Name { name: t.text.clone(), source }),
        Err(_) => Ok(Key::Literal(t.text.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_and_escaped() {
        let k =
            parse_keys("keys", "ipsource.1,[prefix:stack:.:5],concat:\\::ipsource:ipdestination").unwrap();
        assert_eq!(k.len(), 3);
        match &k[2] {
            Key::Func(f) => match f.as_ref() {
                Func::Concat { sep, keys } => {
                    assert_eq!(sep, ":");
                    assert_eq!(keys.len(), 2);
                }
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
        let e = parse_keys("keys", "ipsource,country:ipsource").unwrap_err();
        assert_eq!(e.position, 9);
        assert!(e.message.contains("GeoIP"), "{e}");
        let e = parse_keys("keys", "prefx:stack:.:2").unwrap_err();
        assert!(e.message.contains("did you mean `prefix`"), "{e}");
    }
}
