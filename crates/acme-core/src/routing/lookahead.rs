//! A pattern with one negative lookahead, matched by asking the lookahead only where it stands.
//!
//! Middleware's usual matcher, `/((?!_next/static|_next/image|favicon.ico).*)` as Next compiles
//! it, is `^X(?!B)Y`: an optional `/_next/data/<id>` prefix and a `/` (X), the excluded
//! prefixes (B), then any text to the end (Y). Its superset translation (the lookahead
//! dropped) is exact only where B occurs nowhere, so every path containing an excluded prefix
//! (every `/_next/static/…` asset) went to the backtracking matcher, and every other path to a
//! walk of an automaton that also searches the whole path for B. Cut at the lookahead, the
//! pattern is three anchored automata: X's ends (here one or two), B at each end (a few bytes
//! before it dies), and Y from there; and a Y that accepts exactly the texts without a line
//! terminator (as `.*` and the optional suffixes after it do) is a scan for those bytes.

use regex_automata::dfa::{dense, Automaton};
use regex_automata::util::primitives::StateID;
use regex_automata::util::start;
use regex_automata::Anchored;

use super::jsre::{dense_dfa, DenseSet, LookaheadCut};

/// Most ends of X tried: a prefix that can end at more places (a `.*` before the lookahead)
/// leaves the pattern to the other engines.
const MAX_ENDS: usize = 4;

/// A [`LookaheadCut`] compiled: see the module documentation.
#[derive(Debug, Clone)]
pub(super) struct LookaheadMatcher {
    prefix: DenseSet,
    body: DenseSet,
    suffix: Suffix,
}

#[derive(Debug, Clone)]
enum Suffix {
    /// Y accepts exactly the texts without `\n`, `\r`, U+2028 or U+2029.
    NoLineTerminator,
    /// Y's automaton (it matches when it reaches a match state).
    Automaton(Box<DenseSet>),
}

impl LookaheadMatcher {
    /// `None` when a part does not compile to a dense automaton.
    pub(super) fn new(cut: &LookaheadCut) -> Option<Self> {
        let suffix_dfa = anchored_dfa(&format!("^(?:{})", cut.suffix))?;
        let suffix = if cut.end_anchored && free_of_line_terminators_language(&suffix_dfa)? {
            Suffix::NoLineTerminator
        } else {
            Suffix::Automaton(Box::new(DenseSet::new(suffix_dfa, true, |_| (1, 0))?))
        };
        let set = |source: &str| DenseSet::new(anchored_dfa(source)?, true, |_| (1, 0));
        Some(Self {
            prefix: set(&cut.prefix)?,
            body: set(&format!("^(?:{})", cut.body))?,
            suffix,
        })
    }

    /// Whether the pattern matches `text` (a text of BMP characters: beyond it JavaScript
    /// reads UTF-16 code units, which these automata do not); `None` when X ends at more than
    /// [`MAX_ENDS`] places.
    pub(super) fn is_match(&self, text: &str) -> Option<bool> {
        let mut ends = [0usize; MAX_ENDS];
        let n = self.prefix.ends(text, &mut ends)?;
        for &p in &ends[..n] {
            // (A match ends between characters: `get` never declines here.)
            let rest = text.get(p..)?;
            if self.body.walk(rest).0 != 0 {
                continue;
            }
            let found = match &self.suffix {
                Suffix::NoLineTerminator => !has_line_terminator(rest),
                Suffix::Automaton(y) => y.walk(rest).0 != 0,
            };
            if found {
                return Some(true);
            }
        }
        Some(false)
    }
}

/// Whether `text` holds a JavaScript line terminator (`\n`, `\r`, U+2028, U+2029): what `.`
/// does not match.
fn has_line_terminator(text: &str) -> bool {
    // Eight bytes at a time, a word with no byte below 0x20 or above 0x7f (the usual path's
    // every word) holds none; the rare word that may is looked at byte by byte. (The stop scan
    // of `bytescan` cost ~125 instructions on a path of ~20 bytes, most in its byte loop.)
    const LOW: u64 = 0x2020_2020_2020_2020;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let b = text.as_bytes();
    let words = b.chunks_exact(8);
    let tail = words.remainder();
    for w in words {
        let x = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        // A byte below 0x20 borrows into its high bit; a byte above 0x7f has it set.
        if (x.wrapping_sub(LOW) | x) & HIGH != 0 {
            return line_terminator_at_any_byte(b);
        }
    }
    if tail.iter().any(|&c| !(0x20..0x80).contains(&c)) {
        return line_terminator_at_any_byte(b);
    }
    false
}

/// [`has_line_terminator`] byte by byte.
fn line_terminator_at_any_byte(b: &[u8]) -> bool {
    b.iter().enumerate().any(|(i, &c)| match c {
        b'\n' | b'\r' => true,
        0xE2 => b.get(i + 1) == Some(&0x80) && matches!(b.get(i + 2), Some(0xA8 | 0xA9)),
        _ => false,
    })
}

/// [`dense_dfa`] of one pattern anchored at the text's start; `None` for one that is not.
fn anchored_dfa(source: &str) -> Option<dense::DFA<Vec<u32>>> {
    let (dfa, anchored) = dense_dfa(&[source])?;
    anchored.then_some(dfa)
}

/// Whether `dfa` (anchored, of an end-anchored pattern) matches exactly the texts without a
/// line terminator: it and the automaton of `[^\n\r\u2028\u2029]*$`, walked together over
/// every byte from their starts, never disagree on a match at the end. `None` when the second
/// does not compile.
fn free_of_line_terminators_language(a: &dense::DFA<Vec<u32>>) -> Option<bool> {
    let b = anchored_dfa(r"^[^\n\r\x{2028}\x{2029}]*$")?;
    let config = start::Config::new().anchored(Anchored::Yes);
    let pair = (a.start_state(&config).ok()?, b.start_state(&config).ok()?);
    let mut seen: std::collections::HashSet<(StateID, StateID)> = [pair].into();
    let mut todo = vec![pair];
    while let Some((x, y)) = todo.pop() {
        let at_end = |d: &dense::DFA<Vec<u32>>, s| d.is_match_state(d.next_eoi_state(s));
        if at_end(a, x) != at_end(&b, y) {
            return Some(false);
        }
        if a.is_dead_state(x) && b.is_dead_state(y) {
            continue;
        }
        for byte in 0..=255u8 {
            let next = (a.next_state(x, byte), b.next_state(y, byte));
            if seen.insert(next) {
                todo.push(next);
            }
        }
    }
    Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_terminators_are_found_wherever_they_are() {
        for t in [
            "",
            "/a",
            "/_next/static/x.js",
            "/é",
            "/\u{2027}",
            "/\u{202A}",
            "/a b",
            "\t\x0B\x0C\x7F\u{85}",
        ] {
            assert!(!has_line_terminator(t), "{t:?}");
            let long = format!("{t}{}", "x".repeat(40));
            assert!(!has_line_terminator(&long), "{long:?}");
        }
        for lt in ["\n", "\r", "\u{2028}", "\u{2029}"] {
            for at in [0, 1, 7, 8, 9, 15, 16, 17, 40] {
                let t = format!("{}{lt}{}", "a".repeat(at), "b".repeat(20));
                assert!(has_line_terminator(&t), "{t:?}");
            }
        }
    }

    #[test]
    fn a_suffix_is_read_as_free_of_line_terminators_only_when_it_is() {
        let yes = [
            r"^(?:(?:[^\n\r\x{2028}\x{2029}]*))(\.json|\.rsc)?[\/#\?]?$",
            r"^(?:[^\n\r\x{2028}\x{2029}]*)$",
        ];
        for s in yes {
            let dfa = anchored_dfa(s).unwrap_or_else(|| unreachable!("{s} compiles"));
            assert_eq!(free_of_line_terminators_language(&dfa), Some(true), "{s}");
        }
        let no = [
            // A text must not be empty.
            r"^(?:[^\n\r\x{2028}\x{2029}]+)$",
            // `\n` taken.
            r"^(?:[^\r\x{2028}\x{2029}]*)$",
            // Not every text.
            r"^(?:[a-z]*)$",
            // U+2029 taken.
            r"^(?:[^\n\r\x{2028}]*)$",
        ];
        for s in no {
            let dfa = anchored_dfa(s).unwrap_or_else(|| unreachable!("{s} compiles"));
            assert_eq!(free_of_line_terminators_language(&dfa), Some(false), "{s}");
        }
    }
}
