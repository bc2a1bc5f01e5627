//! Hostile expressions: deep nesting, long chains and costly regular expressions are refused
//! with an error that names the limit, quickly and without exhausting the stack (the REST API
//! compiles whatever anyone sends, on a thread with a small stack).
use query::{limits, Context, Definition};
use std::time::{Duration, Instant};

fn compile(keys: &str, filter: Option<&str>) -> Result<query::Compiled, query::QueryError> {
    Definition { keys: keys.into(), filter: filter.map(String::from), ..Definition::default() }
        .compile(&Context::new())
}

/// Compiles on a thread with a 1 MiB stack (half an async worker's; debug builds use
/// several KiB per nesting level), and says how long it took.
fn compile_small_stack(keys: String, filter: Option<String>) -> (Result<(), String>, Duration) {
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let t = Instant::now();
            let r = compile(&keys, filter.as_deref()).map(|_| ()).map_err(|e| e.to_string());
            (r, t.elapsed())
        })
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn deep_parentheses_are_refused_naming_the_limit() {
    for n in [33, 2_000, 10_000] {
        let f = format!("{}ipsource=10.0.0.1{}", "(".repeat(n), ")".repeat(n));
        let (r, took) = compile_small_stack(String::new(), Some(f));
        let e = r.unwrap_err();
        assert!(e.contains("deeper than 32 levels (the limit)"), "{n}: {e}");
        assert!(took < Duration::from_secs(1), "{n}: {took:?}");
    }
    let f = format!("{}ipsource=10.0.0.1", "!".repeat(5_000));
    assert!(compile_small_stack(String::new(), Some(f)).0.unwrap_err().contains("deeper than 32"));
    // Within the limit, nesting works.
    let f = format!("{}ipsource=10.0.0.1{}", "(".repeat(31), ")".repeat(31));
    assert!(compile_small_stack(String::new(), Some(f)).0.is_ok());
}

#[test]
fn long_chains_are_flat_and_bounded() {
    // 1,000 terms: accepted, evaluated without recursion per term.
    let f = vec!["false"; 1_000].join("|");
    assert!(compile_small_stack(String::new(), Some(f)).0.is_ok());
    let f = vec!["false"; 10_900].join("|");
    let e = compile_small_stack(String::new(), Some(f)).0.unwrap_err();
    assert!(e.contains("more than 1024 comparisons (the limit)"), "{e}");
    let f = vec!["ipsource=10.0.0.1"; 20_000].join("&");
    let e = compile_small_stack(String::new(), Some(f)).0.unwrap_err();
    assert!(e.contains("bytes long; the limit is 65536"), "{e}");
}

#[test]
fn deep_keys_are_refused_in_linear_time() {
    for n in [40, 1_500, 5_000] {
        let k = format!("{}ipsource{}", "null:[".repeat(n), "]:x".repeat(n));
        let (r, took) = compile_small_stack(k, None);
        let e = r.unwrap_err();
        assert!(e.contains("the key nests deeper than 32 levels"), "{n}: {e}");
        assert!(took < Duration::from_millis(500), "{n}: {took:?}");
    }
    let k = format!("{}ipsource{}", "null:[".repeat(30), "]:x".repeat(30));
    assert!(compile_small_stack(k, None).0.is_ok());
    // Keys inside a filter count its parentheses too.
    let f = format!(
        "{}[{}ipsource{}]=x{}",
        "(".repeat(20),
        "null:[".repeat(20),
        "]:x".repeat(20),
        ")".repeat(20)
    );
    assert!(compile_small_stack(String::new(), Some(f)).0.unwrap_err().contains("deeper than 32"));
}

#[test]
fn costly_regular_expressions_are_refused() {
    let t = Instant::now();
    let f = vec![r"stack~'\w{200}'"; 50].join("|");
    let e = compile(String::new().as_str(), Some(&f)).unwrap_err().to_string();
    assert!(e.contains("compiles to more than 1024 KiB (the limit)"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // Many regular expressions each under the limit add up to the definition's limit.
    let f = vec![r"stack~'\w{12}'"; 40].join("|");
    let e = compile("", Some(&f)).unwrap_err().to_string();
    assert!(e.contains("the definition compiles to") && e.contains("the limit is 16384 KiB"), "{e}");
    // Ordinary patterns are small, and their memory is reported.
    let c = compile("ipsource", Some("stack~eth\\.ip\\..*&ipsource~'10\\.0\\..*'")).unwrap();
    assert!(c.memory() < 2 * limits::REGEX_CACHE_BYTES + 100_000, "{}", c.memory());
}
