#![allow(missing_docs, clippy::unwrap_used, clippy::panic)]
//! `JsRegex` against V8 itself (a `node` child process). In a test binary of its own: starting
//! node beside the library's tests, which calibrate input caps by timing `regress`, could make a
//! calibration see a preempted try.

use acme_core::routing::JsRegex;

/// V8 itself (a `node` child process) against ours on texts with characters beyond the BMP,
/// which a pattern without the `u` flag sees as two code units each.
#[test]
fn texts_beyond_the_bmp_are_matched_as_v8_matches_them() {
    use std::io::Write;
    let patterns = [
        ("^..$", ""),
        ("^.$", ""),
        ("^(.)(.*)$", ""),
        ("^/(?<first>[^/]{2})", ""),
        ("^/a/(?<nxtPslug>[^/]+?)(?:/)?$", "i"),
        ("^(?:/(.+))?$", ""),
        ("x.{3}y", ""),
        ("(?<!a).$", ""),
    ];
    let texts = [
        "\u{1F600}",
        "/\u{1F600}",
        "/\u{1F600}\u{1F601}",
        "/a/\u{1F600}/",
        "x\u{1F600}ay",
        "x\u{1F600}y",
        "/\u{e9}\u{1F600}",
        "a\u{10000}",
    ];
    let cases: Vec<(&str, &str, &str)> = patterns
        .iter()
        .flat_map(|&(p, f)| texts.iter().map(move |&t| (p, f, t)))
        .collect();
    // Lone surrogates in V8's captures are read as U+FFFD, as ours are.
    let script = "const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));\
        console.log(JSON.stringify(cases.map(([p, f, t]) => { const m = new RegExp(p, f).exec(t); \
        return m && Array.from(m, (g) => (g === undefined ? null : g.toWellFormed())) })))";
    let mut child = std::process::Command::new("node")
        .args(["-e", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node (the V8 this test compares with) must be on PATH");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(&cases).expect("json").as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("node");
    assert!(out.status.success(), "node failed");
    let v8: Vec<Option<Vec<Option<String>>>> =
        serde_json::from_slice(&out.stdout).expect("node's answer");
    let mut matched = 0;
    for ((p, f, t), want) in cases.iter().zip(v8) {
        let re = JsRegex::new(p, f).expect("re");
        assert_eq!(re.is_match(t), want.is_some(), "/{p}/{f}.test({t:?})");
        let got = re.captures(t).map(|c| {
            c.groups
                .iter()
                .map(|g| g.as_deref().map(str::to_string))
                .collect()
        });
        assert_eq!(got, want, "/{p}/{f}.exec({t:?})");
        matched += usize::from(got.is_some());
    }
    assert!(matched > 15, "{matched} of {} cases matched", cases.len());
}
