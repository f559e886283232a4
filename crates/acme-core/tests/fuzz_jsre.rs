#![allow(missing_docs, clippy::unwrap_used, clippy::panic)]
//! Property-based fuzzing of the JavaScript-regex compiler ([`JsRegex`]): any pattern is refused
//! with an error or compiled, never a panic; and where it compiles, it agrees with `regress`
//! (ECMAScript semantics) on `test` and on `match` (every group, named groups included) for
//! inputs within its cap. The linear-time translation is where a disagreement would come from.
//!
//! Cases per property: `PROPTEST_CASES` (default 64 here, for `npm test`); a long run:
//! `PROPTEST_CASES=20000 cargo test --release -p acme-core --test fuzz_jsre`.

mod common;

use acme_core::routing::{JsRegex, RegexFilter};
use proptest::prelude::*;

/// Pieces of JavaScript regex syntax, valid and not, that route regexes are made of.
fn atom() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "a",
            "b",
            "/",
            "-",
            "_",
            ".",
            "\\/",
            "\\.",
            "\\d",
            "\\D",
            "\\w",
            "\\W",
            "\\s",
            "\\S",
            "\\b",
            "\\B",
            "[^/]",
            "[^/]+?",
            "[a-z]",
            "[A-Z0-9_-]",
            "[\\/#\\?]",
            "[^\\d]",
            "[]",
            "[^]",
            "^",
            "$",
            "\\1",
            "\\2",
            "\\k<n>",
            "\\u0041",
            "\\x41",
            "\\u{1F600}",
            "é",
            "😀",
            "\\n",
            "\\t",
            "\\0",
            "(",
            ")",
            "[",
            "]",
            "{",
            "}",
            "|",
            "*",
            "+",
            "?",
            "\\",
            "\\c",
            "\\p{L}",
            "(?",
            "(?<",
            "(?<n>",
            "(?<=",
            "(?<!",
            "(?=",
            "(?!",
            "(?:",
        ])
        .prop_map(str::to_string),
        "[a-c/]{1,3}",
    ]
}

fn quantifier() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "", "", "", "*", "+", "?", "*?", "+?", "??", "{2}", "{1,3}", "{2,}", "{0,1}?", "{3,1}",
        "{,2}",
    ])
}

/// Regex-like patterns: a recursive grammar of groups, alternations and quantified atoms.
fn pattern() -> impl Strategy<Value = String> {
    let leaf = (atom(), quantifier()).prop_map(|(a, q)| format!("{a}{q}"));
    leaf.prop_recursive(4, 24, 6, |inner| {
        let group_kind = prop::sample::select(vec![
            "(", "(?:", "(?<n>", "(?<m>", "(?=", "(?!", "(?<=", "(?<!",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..5).prop_map(|v| v.concat()),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}|{b}")),
            (group_kind, inner, quantifier()).prop_map(|(g, body, q)| format!("{g}{body}){q}")),
        ]
    })
}

fn flags() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "", "i", "u", "iu", "s", "m", "g", "x"])
}

fn input() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ab/_.-]{0,12}",
        "[aAbB0-9/é😀\\n -]{0,10}",
        "/[a-z]{1,6}(/[a-z0-9]{1,4}){0,3}",
    ]
}

/// `m[0], m[1], …` and the named groups of a match.
type Groups = (Vec<Option<String>>, Vec<(String, Option<String>)>);

/// A match's groups as plain strings, to compare with [`reference`].
fn plain(c: acme_core::routing::Captures) -> Groups {
    let s = |v: Option<compact_str::CompactString>| v.map(|v| v.to_string());
    (
        c.groups.into_iter().map(s).collect(),
        c.named
            .into_iter()
            .map(|(n, v)| (n.to_string(), s(v)))
            .collect(),
    )
}

/// `text.match(re)` with regress alone (the reference).
fn reference(re: &regress::Regex, text: &str) -> Option<Groups> {
    let m = re.find(text)?;
    let get = |r: Option<regress::Range>| r.and_then(|r| text.get(r)).map(str::to_string);
    let mut groups = vec![text.get(m.range()).map(str::to_string)];
    groups.extend(m.captures.iter().cloned().map(get));
    let named = m
        .named_groups()
        .map(|(n, r)| (n.to_string(), get(r)))
        .collect();
    Some((groups, named))
}

/// Found by the property below (fixed: a quantified group whose body can match empty runs on
/// `regress`): V8 and `regress`
/// answer `/(a*)*/.exec('/a')` with `['', undefined]`; `JsRegex` with `['', '']`.
#[test]
fn empty_iteration_of_a_repeated_capture_is_undefined() {
    let re = JsRegex::new("(a*)*", "").unwrap();
    let c = plain(re.captures("/a").unwrap());
    assert_eq!(c.0, vec![Some(String::new()), None]);
}

/// Found by the property below: V8 and `regress` answer `/(\/?){1,3}/.exec('/a')` with
/// `['/', '/']` (an iteration that matches empty ends the repetition and keeps the last
/// capture); `JsRegex` with `['/', '']`.
#[test]
fn empty_later_iteration_keeps_the_earlier_capture() {
    let re = JsRegex::new("(/?){1,3}", "").unwrap();
    let c = plain(re.captures("/a").unwrap());
    assert_eq!(c.0, vec![Some("/".to_string()), Some("/".to_string())]);
}

/// Found by the property below: V8 and `regress` answer `/(?:a*?)*/.exec('aa')` with `['aa']`
/// (a lazy body inside a greedy repetition still consumes); `JsRegex` with `['']`. The same
/// shape changes captures: `/(\/*?)*/.exec('/a')` is `['/', '/']` in V8, `['', '']` here.
#[test]
fn lazy_body_in_a_greedy_repetition_consumes() {
    let re = JsRegex::new("(?:a*?)*", "").unwrap();
    assert_eq!(
        plain(re.captures("aa").unwrap()).0,
        vec![Some("aa".to_string())]
    );
}

proptest! {
    #![proptest_config(common::proptest_config(64))]

    #[test]
    fn arbitrary_text_is_refused_or_compiled(source in "\\PC{0,40}", flags in flags()) {
        if let Ok(re) = JsRegex::new(&source, flags) {
            let _ = re.is_match("/a/b");
            let _ = re.captures("");
        }
    }

    #[test]
    fn patterns_compile_or_refuse_and_agree_with_regress(
        source in pattern(),
        flags in flags(),
        inputs in prop::collection::vec(input(), 1..6),
    ) {
        let ours = JsRegex::new(&source, flags);
        let theirs = regress::Regex::with_flags(&source, flags);
        prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "compiles in one and not the other: {:?}", source);
        if let (Ok(ours), Ok(theirs)) = (ours, theirs) {
            for text in inputs {
                if text.len() > ours.cap() {
                    continue;
                }
                let want = reference(&theirs, &text);
                prop_assert_eq!(ours.is_match(&text), want.is_some(), "test({:?}) on /{}/{}", text, source, flags);
                let got = ours.captures(&text).map(plain);
                prop_assert_eq!(got, want, "match({:?}) on /{}/{}", text, source, flags);
            }
        }
    }

    /// A phase filter never rules out a regex that matches, and what it calls certain matches.
    #[test]
    fn filter_bits_agree_with_each_regex(
        sources in prop::collection::vec(pattern(), 2..8),
        flags in flags(),
        inputs in prop::collection::vec(input(), 1..6),
    ) {
        let regexes: Vec<(&String, JsRegex)> = sources
            .iter()
            .filter_map(|s| Some((s, JsRegex::new(s, flags).ok()?)))
            .collect();
        if let Some(filter) = RegexFilter::new(regexes.iter().map(|(_, re)| re)) {
            for text in inputs {
                let m = filter.matches(&text);
                for (i, (source, re)) in regexes.iter().enumerate() {
                    if text.len() > re.cap() {
                        continue;
                    }
                    let is = re.is_match(&text);
                    prop_assert!(is || m.sure >> i & 1 == 0, "filter sure of /{}/{} on {:?}", source, flags, text);
                    prop_assert!(!is || m.may >> i & 1 == 1, "filter ruled out /{}/{} on {:?}", source, flags, text);
                }
            }
        }
    }
}
