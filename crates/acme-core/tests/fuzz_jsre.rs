#![allow(missing_docs, clippy::unwrap_used, clippy::panic)]
//! Property-based fuzzing of the JavaScript-regex compiler ([`JsRegex`]): any pattern is refused
//! with an error or compiled, never a panic; and where it compiles, it agrees with `regress`
//! (ECMAScript semantics) on `test` and on `match` (every group, named groups included) for
//! inputs within its cap, or, where the two differ, with V8 itself (`node`, which `npm test`
//! has): `regress` reads code points where JavaScript without the `u` flag reads UTF-16 code
//! units, and misses some matches of nested counted repetitions. The linear-time translation
//! is where a disagreement would come from.
//!
//! Cases per property: `PROPTEST_CASES` (default 64 here, for `npm test`); a long run:
//! `PROPTEST_CASES=20000 cargo test --release -p acme-core --test fuzz_jsre`.

mod common;

use acme_core::routing::{nullable_loop_in_repetition, JsRegex, RegexFilter};
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

/// The bytes `regress` is given for `text`, which the input cap bounds: a character beyond the
/// BMP is searched as its two UTF-16 code units, each a three-byte stand-in (`jsre::ucs2_form`),
/// so a text of them is longer than it is (`/^(/*)*(?!b)a*(\w)/`, capped at 8 bytes, answers
/// `false` on the 7-byte `a😀- `: its searched form has 9). Texts past the cap are non-matches
/// by design, not compared.
fn searched_len(text: &str) -> usize {
    text.len() + 2 * text.chars().filter(|c| u32::from(*c) > 0xFFFF).count()
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

/// `new RegExp(source, flags).exec(text)` in V8, through `node`: the groups and the named groups
/// (a lone surrogate, where a group cuts a character in two, as U+FFFD: what `JsRegex` answers,
/// its strings being UTF-8).
/// `Err`: V8 refuses the pattern or its flags (`regress` takes an `x` flag JavaScript does not).
fn v8(source: &str, flags: &str, text: &str) -> Result<Option<Groups>, String> {
    const SCRIPT: &str = "const [s, f, t] = JSON.parse(process.argv[1]); \
        const m = new RegExp(s, f).exec(t); \
        const w = (x) => (x === undefined ? null : x.toWellFormed()); \
        console.log(JSON.stringify(m && [[...m].map(w), Object.entries(m.groups || {}).map(([k, v]) => [k, w(v)])]))";
    let args = serde_json::json!([source, flags, text]).to_string();
    let out = std::process::Command::new("node")
        .args(["-e", SCRIPT, &args])
        .output()
        .expect("node, to ask V8");
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(err.contains("SyntaxError"), "node: {err}");
        return Err(err);
    }
    Ok(serde_json::from_slice(&out.stdout).expect("V8's groups"))
}

/// Where `regress` misses a match, the answer is V8's: `/(([^\d]{1,3}){1,3}){2,}/.exec('AA')`
/// and `/((.+){2}){2}/.exec('/a/0')` match in V8 (`['AA', 'A', 'A']`, `['/a/0', '/0', '0']`);
/// `regress` finds no match. (The fuzz property met both; it now asks V8 where the two differ.)
#[test]
fn nested_counted_repetitions_match_as_in_v8() {
    for (source, text) in [("(([^\\d]{1,3}){1,3}){2,}", "AA"), ("((.+){2}){2}", "/a/0")] {
        let re = JsRegex::new(source, "").unwrap();
        let want = v8(source, "", text).unwrap();
        assert!(want.is_some(), "{source} on {text}");
        assert!(regress::Regex::new(source).unwrap().find(text).is_none());
        assert!(re.is_match(text));
        assert_eq!(re.captures(text).map(plain), want, "{source} on {text}");
    }
}

/// `test` of every pattern on every text in V8, through one `node`: `[pattern][text]`.
fn v8_tests(sources: &[&str], texts: &[&str]) -> Vec<Vec<bool>> {
    const SCRIPT: &str = "const [ss, ts] = JSON.parse(require('fs').readFileSync(0, 'utf8')); \
        console.log(JSON.stringify(ss.map((s) => ts.map((t) => new RegExp(s).test(t)))))";
    let mut child = std::process::Command::new("node")
        .args(["-e", SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node, to ask V8");
    let input = serde_json::json!([sources, texts]).to_string();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("V8's answers")
}

/// Middleware's usual matchers and Next's trailing-slash rules hold one negative lookahead that
/// `JsRegex` asks only where it stands (its three automata: the ends of what precedes it, its
/// body there, what follows it): on paths with and without the excluded prefixes, at the
/// `/_next/data/…` prefix's end too, with line terminators anywhere, and beyond ASCII, `test`
/// answers as V8's.
#[test]
fn lookaheads_asked_where_they_stand_answer_as_v8() {
    let sources = [
        // `matcher: '/((?!_next/static|_next/image|favicon.ico).*)'` as Next 16 compiles it.
        r"^(?:\/(_next\/data\/[^/]{1,}))?(?:\/((?!_next\/static|_next\/image|favicon.ico).*))(\.json|\.rsc|\.segments\/.+\.segment\.rsc)?[\/#\?]?$",
        r"^(?:\/(_next\/data\/[^/]{1,}))?(?:\/((?!api|_next\/static|_next\/image|favicon.ico|sitemap.xml|robots.txt).*))(\.json)?[\/#\?]?$",
        // Trailing-slash rules (`trailingSlash: true`, i18n).
        r"^(?:\/((?!\.well-known(?:\/.*)?)(?:[^/]+\/)*[^/]+\.\w+))\/$",
        r"^(?:\/((?!\.well-known(?:\/.*)?)(?:[^/]+\/)*[^/\.]+))$",
        // A suffix that is not "anything without a line terminator"; a body with a class.
        r"^\/(?!a[0-9]b)[a-z0-9]*x$",
        r"^\/(?:blog|docs)\/(?!draft-).+",
    ];
    let mut texts: Vec<String> = [
        "/",
        "",
        "/about",
        "/api",
        "/api/x",
        "/apix",
        "/_next/static/chunks/a.js",
        "/_next/static",
        "/_next/image?url=x",
        "/favicon.ico",
        "/faviconXico",
        "/favicon.ico.json",
        "/x/_next/static/y",
        "/_next/data/b1/_next/static/x.json",
        "/_next/data/b1/about.json",
        "/_next/data/b1/x.json",
        "/_next/data//x",
        "/_next/data/b1",
        "/_next/data/b1/",
        "/sitemap.xml",
        "/robots.txt/",
        "/a.b/",
        "/a/b.c/",
        "/.well-known/x.y/",
        "/.well-knownx.y/",
        "/.well-known/",
        "/.well-known",
        "/x/.well-known/a.b/",
        "/a1bx",
        "/a12bx",
        "/abx",
        "/x",
        "/blog/draft-1",
        "/blog/post",
        "/docs/draft-",
        "/docs/",
        "/é",
        "/é/ü.json",
        "/\u{2028}",
        "/a\u{2029}b",
        "/a\nb",
        "/a\r",
        "/_next/static\n",
        "\n/about",
        "/about\u{2028}.rsc",
        "/x.segments/a.segment.rsc",
        "/_next/data/b1/x.rsc/",
        "/a b",
        "/a\u{85}b",
        "/\u{2027}",
        "//",
        "/#",
        "/?",
    ]
    .iter()
    .map(|t| t.to_string())
    .collect();
    // Past a word of eight bytes and a window of sixteen, a line terminator or not.
    for lt in ["", "\n", "\r", "\u{2028}", "\u{2029}", "é"] {
        for at in [7, 8, 9, 16, 17, 30] {
            texts.push(format!("/{}{lt}{}", "a".repeat(at), "b".repeat(3)));
            texts.push(format!("/_next/data/b/{}{lt}x", "c".repeat(at)));
        }
    }
    let text_refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let want = v8_tests(&sources, &text_refs);
    for (source, want) in sources.iter().zip(want) {
        let re = JsRegex::new(source, "").unwrap();
        assert!(re.tests_lookahead_in_place(), "{source} is asked in place");
        for (text, want) in text_refs.iter().zip(want) {
            assert_eq!(re.is_match(text), want, "/{source}/.test({text:?})");
        }
    }
}

/// Only a lookahead that is passed once, on every way through the pattern, is asked in place:
/// not one inside a repeated group or an alternative, nor a second lookaround, a lookbehind, a
/// positive lookahead, a pattern not anchored at its start, or a `^` after the lookahead.
#[test]
fn lookaheads_asked_in_place_are_those_passed_once() {
    for (source, in_place) in [
        (r"^\/(?!a)b", true),
        (r"^(?:\/((?!a).*))$", true),
        (r"^(?:x(?!a)y)+", false),
        (r"^(?:x(?!a)y|z)", false),
        (r"^x(?!a)y|z", false),
        (r"^x(?!a)y(?!b)", false),
        (r"^x(?<!a)y", false),
        (r"^x(?=a)y", false),
        (r"x(?!a)y", false),
        (r"^x(?!a)^y", false),
        (r"^x(?!^a)y", false),
        (r"^x(?!(a))y", false),
    ] {
        let re = JsRegex::new(source, "").unwrap();
        assert_eq!(re.tests_lookahead_in_place(), in_place, "{source}");
    }
}

/// Valid patterns without lookarounds, of the pieces route regexes are made of.
fn plain_pattern() -> impl Strategy<Value = String> {
    let atom = prop::sample::select(vec![
        "a",
        "b",
        "/",
        "-",
        "_",
        ".",
        "\\/",
        "\\.",
        "\\d",
        "\\w",
        "\\s",
        "[^/]",
        "[a-z]",
        "[\\/#\\?]",
        "é",
        "\\n",
        "$",
        "",
    ]);
    let quantifier = prop::sample::select(vec![
        "", "", "", "*", "+", "?", "*?", "+?", "{1,}", "{2}", "{0,2}",
    ]);
    let leaf = (atom, quantifier).prop_map(|(a, q)| {
        if a.is_empty() || a == "$" {
            a.to_string()
        } else {
            format!("{a}{q}")
        }
    });
    leaf.prop_recursive(3, 12, 4, |inner| {
        let group = prop::sample::select(vec!["(", "(?:"]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(|v| v.concat()),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("(?:{a}|{b})")),
            (
                group,
                inner,
                prop::sample::select(vec!["", "", "?", "*", "{1,2}"])
            )
                .prop_map(|(g, body, q)| format!("{g}{body}){q}")),
        ]
    })
}

/// A pattern `^X(?!B)Y`, its lookahead sometimes inside unquantified groups.
fn lookahead_pattern() -> impl Strategy<Value = String> {
    let wrap = prop::sample::select(vec!["", "", "(?:", "(", "(?<w>"]);
    let end = prop::sample::select(vec!["", "$", "[/#?]?$"]);
    let piece = prop_oneof![3 => plain_pattern(), 1 => pattern()];
    (
        piece.clone(),
        piece.clone(),
        piece.clone(),
        piece,
        wrap,
        end,
    )
        .prop_map(|(x, b, y, z, w, e)| {
            let close = if w.is_empty() { "" } else { ")" };
            format!("^{x}{w}(?!{b}){y}{close}{z}{e}")
        })
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
        if nullable_loop_in_repetition(&source) {
            // Refused: `regress` would not terminate on it (the reference could not run either).
            prop_assert!(ours.is_err(), "/{}/ compiled", source);
            return Ok(());
        }
        prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "compiles in one and not the other: {:?}", source);
        if let (Ok(ours), Ok(theirs)) = (ours, theirs) {
            for text in inputs {
                if searched_len(&text) > ours.cap() {
                    continue;
                }
                let mut want = reference(&theirs, &text);
                let test = ours.is_match(&text);
                let got = ours.captures(&text).map(plain);
                if test != want.is_some() || got != want {
                    // Where they disagree, V8 decides: `regress` on a `&str` reads code points
                    // (JavaScript without the `u` flag reads a text beyond the BMP as UTF-16
                    // code units), and it misses some matches of nested counted repetitions.
                    match v8(&source, flags, &text) {
                        Ok(js) => want = js,
                        // Flags that are not JavaScript's: no JavaScript reading of the text to
                        // hold us to beyond the BMP (`regress`'s is the code points').
                        Err(_) if text.chars().any(|c| u32::from(c) > 0xFFFF) => continue,
                        Err(_) => {}
                    }
                }
                prop_assert_eq!(test, want.is_some(), "test({:?}) on /{}/{}", text, source, flags);
                prop_assert_eq!(got, want, "match({:?}) on /{}/{}", text, source, flags);
            }
        }
    }

    /// Patterns cut at their lookahead ([`lookaheads_asked_in_place_are_those_passed_once`])
    /// answer `test` as `regress` does (or, where the two differ, as V8 does).
    #[test]
    fn lookahead_patterns_agree_with_regress(
        source in lookahead_pattern(),
        flags in prop::sample::select(vec!["", "i"]),
        inputs in prop::collection::vec(prop_oneof![input(), "[ab/_.é\\n-]{0,8}"], 1..8),
    ) {
        let (Ok(ours), Ok(theirs)) = (JsRegex::new(&source, flags), regress::Regex::with_flags(&source, flags)) else {
            return Ok(());
        };
        for text in inputs {
            if searched_len(&text) > ours.cap() {
                continue;
            }
            let mut want = theirs.find(&text).is_some();
            let test = ours.is_match(&text);
            if test != want {
                want = v8(&source, flags, &text).map_or(want, |m| m.is_some());
            }
            prop_assert_eq!(test, want, "test({:?}) on /{}/{}", text, source, flags);
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
                    if searched_len(&text) > re.cap() {
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
