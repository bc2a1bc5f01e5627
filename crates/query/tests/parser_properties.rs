//! Property tests: the parser takes any string without panicking, and every error points
//! inside the expression.
use proptest::prelude::*;
use query::{Context, Definition};

/// Characters the language gives meaning to, and some it does not.
const ALPHABET: &str = "ipsourcedtinaflgvxnk.:,=!~&|()[]'\"\\ 0123456789*^$?+-_/";

fn expression() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(ALPHABET.chars().collect::<Vec<_>>()), 0..60)
        .prop_map(|v| v.into_iter().collect())
}

fn words() -> impl Strategy<Value = String> {
    let words = vec![
        "ipsource",
        "ipsource.1",
        "stack",
        "prefix",
        "group",
        "if",
        "null",
        "range",
        "mask",
        "=",
        "!=",
        "~",
        "!~",
        "&",
        "|",
        "(",
        ")",
        ":",
        ",",
        "[",
        "]",
        "'",
        "10.0.0.1",
        "null",
        "true",
        "eth.ip",
        ".",
        "\\",
        "!",
        "3",
    ];
    proptest::collection::vec(proptest::sample::select(words), 0..20).prop_map(|v| v.concat())
}

fn check(keys: &str, filter: &str, value: &str) {
    let def = Definition {
        keys: keys.into(),
        value: value.into(),
        filter: Some(filter.into()),
        ..Definition::default()
    };
    if let Err(e) = def.compile(&Context::new()) {
        assert!(e.position <= e.source.len(), "{e:?}");
        let _ = e.to_string();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn random_characters_never_panic(k in expression(), f in expression(), v in expression()) {
        check(&k, &f, &v);
    }

    #[test]
    fn random_words_never_panic(k in words(), f in words(), v in words()) {
        check(&k, &f, &v);
    }
}
