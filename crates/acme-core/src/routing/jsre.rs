//! JavaScript regexes compiled once, with a guard against catastrophic backtracking.
//!
//! `regress` is a backtracking engine without a step limit. Every pattern is therefore
//! *calibrated* at construction: patterns whose shape allows super-linear backtracking (a
//! quantifier applied to a group that itself contains an unbounded quantifier) are timed on
//! adversarial inputs of growing length, and the longest length that stays within
//! [`CALIBRATION_BUDGET`] becomes the pattern's input cap. A longer input is treated as a
//! non-match (the request then falls through, like a route that does not apply), so no user
//! pattern can stall a request. Safe patterns get [`MAX_INPUT`].

use std::time::{Duration, Instant};

/// Longest input any regex is run on, in bytes.
pub const MAX_INPUT: usize = 8192;

/// Time one adversarial match may take at the calibrated cap.
pub const CALIBRATION_BUDGET: Duration = Duration::from_micros(150);

/// One captured match: numbered groups (index 0 = whole match) and named groups.
#[derive(Debug, Clone, Default)]
pub struct Captures {
    /// `m[0]`, `m[1]`, … (`None` for groups that did not participate).
    pub groups: Vec<Option<String>>,
    /// Named groups in pattern order.
    pub named: Vec<(String, Option<String>)>,
}

impl Captures {
    /// `m.groups[name]`, when the pattern has such a group.
    pub fn named_group(&self, name: &str) -> Option<&Option<String>> {
        self.named.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// A compiled JavaScript regex with its input cap.
#[derive(Debug, Clone)]
pub struct JsRegex {
    re: regress::Regex,
    cap: usize,
}

impl JsRegex {
    /// Compiles `source` with JavaScript `flags` and calibrates its input cap.
    pub fn new(source: &str, flags: &str) -> Result<Self, String> {
        let re = regress::Regex::with_flags(source, flags).map_err(|e| e.to_string())?;
        let cap = if nested_quantifier(source) {
            calibrate(&re, source)
        } else {
            MAX_INPUT
        };
        Ok(Self { re, cap })
    }

    /// The longest input this regex is run on.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Whether the regex matches somewhere in `text` (`RegExp.prototype.test`).
    pub fn is_match(&self, text: &str) -> bool {
        text.len() <= self.cap && self.re.find(text).is_some()
    }

    /// `text.match(re)` without the `g` flag.
    pub fn captures(&self, text: &str) -> Option<Captures> {
        if text.len() > self.cap {
            return None;
        }
        let m = self.re.find(text)?;
        let get = |r: Option<regress::Range>| r.and_then(|r| text.get(r)).map(str::to_string);
        let mut groups = Vec::with_capacity(m.captures.len() + 1);
        groups.push(text.get(m.range()).map(str::to_string));
        groups.extend(m.captures.iter().cloned().map(get));
        let named = m
            .named_groups()
            .map(|(n, r)| (n.to_string(), get(r)))
            .collect();
        Some(Captures { groups, named })
    }
}

/// True when some quantified group contains an unbounded quantifier (star height >= 2), or a
/// back-reference is present: the shapes for which backtracking can be super-linear.
fn nested_quantifier(source: &str) -> bool {
    let b = source.as_bytes();
    // For every open group: does it contain an unbounded quantifier?
    let mut stack: Vec<bool> = Vec::new();
    let mut in_class = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' {
            if b.get(i + 1)
                .is_some_and(|d| d.is_ascii_digit() && *d != b'0')
                || b.get(i + 1) == Some(&b'k')
            {
                return true;
            }
            i += 2;
            continue;
        }
        if in_class {
            if c == b']' {
                in_class = false;
            }
            i += 1;
            continue;
        }
        match c {
            b'[' => in_class = true,
            b'(' => stack.push(false),
            b')' => {
                let inner = stack.pop().unwrap_or(false);
                let quantified = matches!(b.get(i + 1), Some(b'*' | b'+' | b'{'));
                if inner && quantified {
                    return true;
                }
                if inner || quantified {
                    if let Some(top) = stack.last_mut() {
                        *top = true;
                    }
                }
            }
            b'*' | b'+' | b'{' => {
                if let Some(top) = stack.last_mut() {
                    *top = true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    false
}

/// Adversarial inputs of length about `len` built from the pattern's own characters.
fn adversarial(source: &str, len: usize) -> Vec<String> {
    let mut alphabet: Vec<char> = source
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "/-_.".contains(*c))
        .collect();
    alphabet.sort_unstable();
    alphabet.dedup();
    alphabet.truncate(6);
    if alphabet.is_empty() {
        alphabet.push('a');
    }
    let mut out = Vec::new();
    for c in &alphabet {
        let mut s: String = std::iter::repeat_n(*c, len).collect();
        s.push('\u{1}');
        out.push(s);
    }
    let mut mixed: String = alphabet.iter().cycle().take(len).collect();
    mixed.push('\u{1}');
    out.push(mixed);
    let mut seg: String = std::iter::repeat_n("a/", len / 2).collect();
    seg.push('\u{1}');
    out.push(seg);
    out
}

/// The calibration budget; unoptimized (debug) builds of `regress` are ~20x slower.
fn budget() -> Duration {
    if cfg!(debug_assertions) {
        CALIBRATION_BUDGET * 20
    } else {
        CALIBRATION_BUDGET
    }
}

fn calibrate(re: &regress::Regex, source: &str) -> usize {
    // Linear steps first (exponential blow-ups show at small lengths), then doubling.
    let mut lengths: Vec<usize> = (8..=64).step_by(4).collect();
    let mut l = 128;
    while l <= MAX_INPUT {
        lengths.push(l);
        l *= 2;
    }
    let mut cap = 0;
    for len in lengths {
        for input in adversarial(source, len) {
            let start = Instant::now();
            let _ = re.find(&input);
            if start.elapsed() > budget() {
                return cap;
            }
        }
        cap = len;
    }
    MAX_INPUT
}

/// JavaScript `decodeURIComponent`: `None` where it would throw (bad escape or invalid UTF-8).
pub fn decode_uri_component(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            let hi = b.get(i + 1).copied().and_then(hex)?;
            let lo = b.get(i + 2).copied().and_then(hex)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_nested_quantifiers() {
        assert!(nested_quantifier("(a+)+$"));
        assert!(nested_quantifier(
            "^(?:\\/((?:[^\\/]+?)(?:\\/(?:[^\\/]+?))*))?(?:\\/)?$"
        ));
        assert!(!nested_quantifier("^\\/about(?:\\/)?$"));
        assert!(!nested_quantifier("[(a+)+]"));
    }

    #[test]
    fn evil_pattern_is_capped_and_fast() {
        let re = JsRegex::new("^(a+)+$", "").expect("compiles");
        assert!(re.cap() < 64, "cap {}", re.cap());
        let evil = format!("{}!", "a".repeat(5000));
        let t = Instant::now();
        assert!(!re.is_match(&evil));
        assert!(t.elapsed() < Duration::from_millis(1));
        assert!(re.is_match("aaa"));
    }

    #[test]
    fn path_to_regexp_patterns_keep_full_cap() {
        let re = JsRegex::new("^(?:\\/((?:[^\\/]+?)(?:\\/(?:[^\\/]+?))*))?(?:\\/)?$", "i")
            .expect("compiles");
        assert_eq!(re.cap(), MAX_INPUT);
    }

    #[test]
    fn decode() {
        assert_eq!(decode_uri_component("/a%20b").as_deref(), Some("/a b"));
        assert_eq!(decode_uri_component("%E2%82%AC").as_deref(), Some("€"));
        assert_eq!(decode_uri_component("%"), None);
        assert_eq!(decode_uri_component("%zz"), None);
        assert_eq!(decode_uri_component("%C3"), None);
    }
}
