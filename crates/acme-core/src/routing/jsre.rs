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

use compact_str::CompactString;

use super::backtrack::Program;
use super::lookahead::LookaheadMatcher;
use super::segments::Segments;

/// Longest input any regex is run on, in bytes.
pub const MAX_INPUT: usize = 8192;

/// Longest text the backtracking matcher is asked about: past that the linear-time engines are
/// the faster ones (a path of hundreds of segments would take it deep into recursion, only to
/// give up).
const BACKTRACK_MAX_TEXT: usize = 256;

/// Time one adversarial match may take at the calibrated cap.
pub const CALIBRATION_BUDGET: Duration = Duration::from_micros(150);

/// One captured match: numbered groups (index 0 = whole match) and named groups. Inline
/// strings: a group is usually a path segment and a name a word, short enough to need no
/// allocation each (a dynamic route's match made seven).
#[derive(Debug, Clone, Default)]
pub struct Captures {
    /// `m[0]`, `m[1]`, … (`None` for groups that did not participate).
    pub groups: Vec<Option<CompactString>>,
    /// Named groups in pattern order.
    pub named: Vec<(CompactString, Option<CompactString>)>,
}

impl Captures {
    /// `m.groups[name]`, when the pattern has such a group.
    pub fn named_group(&self, name: &str) -> Option<&Option<CompactString>> {
        self.named.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// A compiled JavaScript regex with its input cap.
///
/// Besides the `regress` program (exact ECMAScript semantics) it holds, when the pattern allows,
/// a linear-time `regex` program: `fast` is an *exact* translation (no lookaround or
/// back-reference, no capture inside a repeated group, ASCII-only literals and classes) used
/// instead of `regress`; otherwise `pre` is a *superset* translation (lookarounds dropped) used
/// as a prefilter: when it does not match, neither does the JavaScript regex. Inputs holding
/// characters outside the BMP (where JavaScript counts UTF-16 code units) always go to `regress`.
#[derive(Debug, Clone)]
pub struct JsRegex {
    re: regress::Regex,
    cap: usize,
    fast: Option<regex::Regex>,
    pre: Option<regex::Regex>,
    /// The superset translation that `fast` or `pre` was built from.
    linear_source: Option<String>,
    /// When the pattern is inexact only through negative lookarounds: a regex matching wherever
    /// one of their bodies could. On a text it does not match, `pre` is exact.
    guard: Option<regex::Regex>,
    /// `pre` and `guard` in one dense DFA (patterns 0 and 1): `test` asks both of every text,
    /// and one pass costs less than two searches (a `Regex` search's setup is most of its cost
    /// on a path). Middleware's usual matcher (`/((?!api|_next/static|…).*)`) is such a pattern.
    /// A walk answers bit 1 of its first set for `pre`, of its second for `guard`.
    pre_guard: Option<DenseSet>,
    /// The source of `guard`, for a [`RegexFilter`] that asks it in the same pass as the others.
    guard_source: Option<String>,
    /// The backtracking matcher for ASCII texts, when the pattern is in its subset: asked first
    /// for captures (where it beats the `regex` crate's capture engines), and for `test` only
    /// where the linear engines cannot decide.
    bt: Option<std::sync::Arc<Program>>,
    /// The token matcher, for patterns of path-to-regexp's shapes: asked before every other
    /// engine (it decides with a scan per segment, on the texts [`Segments`] takes).
    seg: Option<std::sync::Arc<Segments>>,
    /// See [`last_ascii_bytes`]: a text ending in an ASCII byte outside this set cannot match.
    last_ascii: Option<u128>,
    /// See [`min_match_len`]: a text of fewer bytes cannot match (0: no such bound).
    min_len: usize,
    /// For a pattern with one negative lookahead that nothing repeats: the matcher that asks
    /// the lookahead where it stands ([`LookaheadMatcher`]), first for `test` on BMP texts.
    lookahead: Option<Box<LookaheadMatcher>>,
    /// Whether `regress` answers for a text beyond the BMP through [`ucs2_form`] (see
    /// [`ucs2_matchable`]); otherwise it sees such a text's characters as code points.
    ucs2: bool,
}

impl JsRegex {
    /// Compiles `source` with JavaScript `flags` and calibrates its input cap.
    pub fn new(source: &str, flags: &str) -> Result<Self, String> {
        let re = regress::Regex::with_flags(source, flags).map_err(|e| e.to_string())?;
        if super::hazard::nullable_loop_in_repetition(source) {
            return Err(super::hazard::REFUSED.into());
        }
        let plain_flags = flags.chars().all(|c| c == 'i');
        let ucs2 = !flags.contains(['u', 'v']) && ucs2_matchable(source);
        let bt = plain_flags
            .then(|| Program::compile(source, flags.contains('i')))
            .flatten()
            .map(std::sync::Arc::new);
        let seg = plain_flags
            .then(|| Segments::compile(source, flags.contains('i')))
            .flatten()
            .map(std::sync::Arc::new);
        let cap = if nested_quantifier(source) {
            calibrate(&re, source)
        } else {
            MAX_INPUT
        };
        let icase = flags.contains('i');
        let mut linear_source = None;
        let mut guard = None;
        let mut lookahead = None;
        let (fast, pre) = if flags.chars().all(|c| c == 'i') {
            let t = translate(source, icase);
            lookahead = t.cut.as_ref().and_then(LookaheadMatcher::new).map(Box::new);
            linear_source = t.superset.clone();
            guard = t.negative_bodies.map(|b| {
                b.iter()
                    .map(|b| format!("(?:{b})"))
                    .collect::<Vec<_>>()
                    .join("|")
            });
            let build = |p: Option<String>| {
                p.and_then(|p| {
                    regex::RegexBuilder::new(&p)
                        .size_limit(1 << 22)
                        .build()
                        .ok()
                })
            };
            let fast = build(t.exact);
            let pre = if fast.is_some() {
                None
            } else {
                build(t.superset)
            };
            (fast, pre)
        } else {
            (None, None)
        };
        if fast.is_none() && pre.is_none() {
            linear_source = None;
        }
        let (guard, pre_guard, guard_source) = match (&fast, &pre, &linear_source, guard) {
            (None, Some(_), Some(superset), Some(g)) => {
                let compiled = regex::RegexBuilder::new(&g)
                    .size_limit(1 << 22)
                    .build()
                    .ok();
                let pre_guard = dense_dfa(&[superset, &g]).and_then(|(dfa, anchored)| {
                    DenseSet::new(
                        dfa,
                        anchored,
                        |pattern| if pattern == 0 { (1, 0) } else { (0, 1) },
                    )
                });
                let source = compiled.is_some().then_some(g);
                (compiled, pre_guard, source)
            }
            _ => (None, None, None),
        };
        // The superset parsed once for both of its properties the matchers use.
        let superset = linear_source
            .as_deref()
            .and_then(|s| Some((s, regex_syntax::parse(s).ok()?)));
        let last_ascii = superset
            .as_ref()
            .and_then(|(s, hir)| last_ascii_bytes(s, hir.properties()));
        let min_len = superset
            .as_ref()
            .map_or(0, |(_, hir)| min_match_len(hir.properties()));
        Ok(Self {
            re,
            cap,
            fast,
            pre,
            last_ascii,
            min_len,
            linear_source,
            guard,
            pre_guard,
            guard_source,
            bt,
            seg,
            ucs2,
            lookahead,
        })
    }

    /// `regress`'s first match in `text`, and the text its ranges are in: for a pattern without
    /// the `u` flag and a text beyond the BMP, the text as JavaScript reads it ([`ucs2_form`]).
    fn find_js<'t>(&self, text: &'t str) -> Option<(regress::Match, Searched<'t>)> {
        if self.ucs2 && beyond_bmp(text) {
            let units = ucs2_form(text);
            // The cap bounds the text `regress` searches (this one is up to half as long again).
            if units.len() > self.cap {
                return None;
            }
            let m = self.re.find(&units)?;
            return Some((m, Searched::Ucs2(text, units)));
        }
        Some((self.re.find(text)?, Searched::Text(text)))
    }

    /// The backtracking matcher, for a text it is asked about (no longer than
    /// [`BACKTRACK_MAX_TEXT`]). It still declines non-ASCII texts, and a match that gives up
    /// (`Err(Abort)`) leaves the answer to the other engines.
    fn backtrack(&self, text: &str) -> Option<&Program> {
        if text.len() > BACKTRACK_MAX_TEXT {
            return None;
        }
        self.bt.as_deref()
    }

    /// Whether a linear-time exact program replaces `regress` for this pattern.
    pub fn is_translated(&self) -> bool {
        self.fast.is_some()
    }

    /// Whether `test` asks the pattern's one negative lookahead only where it stands
    /// ([`LookaheadMatcher`]): a filter's walk would cost about what the pattern's own does.
    pub fn tests_lookahead_in_place(&self) -> bool {
        self.lookahead.is_some()
    }

    /// The linear-time program for `text`: `Ok(exact)` or `Err(prefilter)`.
    fn linear(&self, text: &str) -> Result<&regex::Regex, Option<&regex::Regex>> {
        // (The bytes' own test, not `beyond_bmp`: measured ~40 instructions a request less here,
        // where most texts are short paths.)
        if text.bytes().any(|b| b >= 0xF0) {
            return Err(None);
        }
        match &self.fast {
            Some(f) => Ok(f),
            None => Err(self.pre.as_ref()),
        }
    }

    /// The longest input this regex is run on.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Whether `text` is shorter than any match ([`min_match_len`]) or ends in an ASCII byte no
    /// match can end with ([`last_ascii_bytes`]).
    #[inline]
    fn cannot_end(&self, text: &str) -> bool {
        if text.len() < self.min_len && !beyond_bmp(text) {
            return true;
        }
        match (self.last_ascii, text.as_bytes().last()) {
            (Some(set), Some(&last)) => last < 0x80 && (set >> last) & 1 == 0,
            _ => false,
        }
    }

    /// Whether the regex matches somewhere in `text` (`RegExp.prototype.test`).
    pub fn is_match(&self, text: &str) -> bool {
        if text.len() > self.cap || self.cannot_end(text) {
            return false;
        }
        if let Some(Ok(found)) = self.seg.as_ref().and_then(|s| s.is_match(text)) {
            return found;
        }
        if let Some(found) = (self.lookahead.as_deref())
            .filter(|_| !beyond_bmp(text))
            .and_then(|l| l.is_match(text))
        {
            return found;
        }
        // For a yes/no answer the linear engines come first: a DFA scan costs less than the
        // backtracking matcher's walk, which is kept for captures and for the texts where a
        // negative lookaround body occurs (the superset translation is not exact there).
        match self.linear(text) {
            Ok(f) => return f.is_match(text),
            Err(Some(pre)) => {
                let (may, guarded) = match &self.pre_guard {
                    Some(dense) => {
                        let (pre, guard) = dense.walk(text);
                        (pre == 1, guard == 1)
                    }
                    None => (pre.is_match(text), !self.unguarded(text)),
                };
                if !may {
                    return false;
                }
                if !guarded {
                    return true;
                }
            }
            Err(None) => {}
        }
        if let Some(found) = self.backtrack(text).and_then(|p| p.is_match(text)?.ok()) {
            return found;
        }
        self.find_js(text).is_some()
    }

    /// No negative lookaround body can match in `text`: `pre` is exact on it.
    fn unguarded(&self, text: &str) -> bool {
        self.guard.as_ref().is_some_and(|g| !g.is_match(text))
    }

    /// `text.match(re)` without the `g` flag. An exact linear-time program answers with its
    /// captures directly: testing for a match first would search twice.
    pub fn captures(&self, text: &str) -> Option<Captures> {
        if text.len() > self.cap || self.cannot_end(text) {
            return None;
        }
        // The token matcher, else the backtracking matcher: both answer with capture slots.
        let decided = (self.seg.as_deref())
            .and_then(|s| Some((s.captures(text)?.ok()?, s.names())))
            .or_else(|| {
                let p = self.backtrack(text)?;
                Some((p.captures(text)?.ok()?, p.names()))
            });
        if let Some((m, names)) = decided {
            let slots = m?;
            let get = |i: usize| {
                slots
                    .get(i)
                    .copied()
                    .flatten()
                    .and_then(|(a, b)| text.get(a..b))
                    .map(CompactString::from)
            };
            let groups = (0..slots.len()).map(get).collect();
            let named = names
                .iter()
                .map(|(n, i)| (CompactString::from(n.as_str()), get(*i)))
                .collect();
            return Some(Captures { groups, named });
        }
        let exact = match self.linear(text) {
            Ok(f) => Some(f),
            Err(Some(pre)) if !pre.is_match(text) => return None,
            Err(Some(pre)) if self.unguarded(text) => Some(pre),
            Err(_) => None,
        };
        if let Some(f) = exact {
            let c = f.captures(text)?;
            let get = |i: usize| c.get(i).map(|m| CompactString::from(m.as_str()));
            let groups = (0..c.len()).map(get).collect();
            let named = f
                .capture_names()
                .enumerate()
                .filter_map(|(i, n)| n.map(|n| (CompactString::from(n), get(i))))
                .collect();
            return Some(Captures { groups, named });
        }
        let (m, searched) = self.find_js(text)?;
        let get = |r: Option<regress::Range>| r.and_then(|r| searched.get(r));
        let mut groups = Vec::with_capacity(m.captures.len() + 1);
        groups.push(searched.get(m.range()));
        groups.extend(m.captures.iter().cloned().map(get));
        let named = m
            .named_groups()
            .map(|(n, r)| (CompactString::from(n), get(r)))
            .collect();
        Some(Captures { groups, named })
    }
}

/// Whether `text` has a character beyond the BMP, which JavaScript reads as two UTF-16 code
/// units (without the `u` flag): no translation applies to it.
#[inline]
pub(super) fn beyond_bmp(text: &str) -> bool {
    !text.is_ascii() && text.bytes().any(|b| b >= 0xF0)
}

/// Whether a pattern without the `u` flag matches a text beyond the BMP as JavaScript does when
/// `regress` is given the text's [`ucs2_form`]: its stand-ins for surrogate code units must be
/// to the pattern what those code units are. They are (neither is a line terminator, a space, a
/// word character or a digit, nor has a case) unless the pattern names one: a character or a
/// `\u` escape in U+D800..=U+E7FF (a class range with an end there), or a character beyond the
/// BMP (which JavaScript reads as two code units, `regress` as one; so does a `\u{…}` escape to
/// `regress`). Such patterns keep the code-point answer.
fn ucs2_matchable(source: &str) -> bool {
    let named = |c: u32| (0xD800..=0xE7FF).contains(&c) || c > 0xFFFF;
    if source.chars().any(|c| named(u32::from(c))) {
        return false;
    }
    let b = source.as_bytes();
    // (`regress` reads `\u{…}` as a code point even without the `u` flag.)
    !(0..b.len()).any(|i| {
        b[i] == b'\\'
            && b.get(i + 1) == Some(&b'u')
            && (b.get(i + 2) == Some(&b'{')
                || b.get(i + 2..i + 6)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .is_some_and(named))
    })
}

/// A text as a pattern without the `u` flag reads it, in a form `regress` takes: each character
/// beyond the BMP (two UTF-16 code units to JavaScript: `/^..$/.test('😀')` is true) as two
/// stand-in characters, U+E000..=U+E7FF for the code units U+D800..=U+DFFF. Patterns that could
/// tell a stand-in from a code unit are not matched this way ([`ucs2_matchable`]).
fn ucs2_form(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    for c in text.chars() {
        if u32::from(c) <= 0xFFFF {
            out.push(c);
            continue;
        }
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            out.push(char::from_u32(u32::from(*unit) + 0x800).unwrap_or('\u{FFFD}'));
        }
    }
    out
}

/// The text a `regress` match's ranges are in.
enum Searched<'t> {
    Text(&'t str),
    /// The text, and its [`ucs2_form`].
    Ucs2(&'t str, String),
}

impl Searched<'_> {
    /// The text of `range`, in the original text's characters. A range that cuts a character
    /// beyond the BMP between its code units holds a lone surrogate in JavaScript, which a Rust
    /// string cannot: it reads U+FFFD there (as a URL or `encodeURIComponent` would write a lone
    /// surrogate).
    fn get(&self, range: std::ops::Range<usize>) -> Option<CompactString> {
        let (original, units) = match self {
            Searched::Text(text) => return text.get(range).map(CompactString::from),
            Searched::Ucs2(original, units) => (*original, units),
        };
        units.get(range.clone())?;
        let mut out = CompactString::default();
        // `at`: where the character starts in the UCS-2 form.
        let mut at = 0;
        for c in original.chars() {
            if at >= range.end {
                break;
            }
            if u32::from(c) <= 0xFFFF {
                if at >= range.start {
                    out.push(c);
                }
                at += c.len_utf8();
                continue;
            }
            // Two stand-ins of three bytes each.
            let (high, low) = (at..at + 3, at + 3..at + 6);
            let inside = |r: &std::ops::Range<usize>| r.start >= range.start && r.end <= range.end;
            match (inside(&high), inside(&low)) {
                (true, true) => out.push(c),
                (false, false) => {}
                _ => out.push('\u{FFFD}'),
            }
            at += 6;
        }
        Some(out)
    }
}

/// For a pattern (in `regex` syntax, a superset translation) every match of which ends at the end
/// of the text and is never empty: bit `b` set for each ASCII byte `b` such a match can end
/// with; `None` for any other pattern. Read off a reverse DFA: the bytes its start state does not
/// go dead on. Routes run on every path without a filter to skip them (a phase of one route, such
/// as the trailing-slash redirect `…\/$`) then cost one test on most paths instead of a search.
/// Only ASCII last bytes are judged: where JavaScript and `regex` see a text's characters
/// differently (outside the BMP), its last byte is not ASCII. `props`: those of `superset`.
fn last_ascii_bytes(superset: &str, props: &regex_syntax::hir::Properties) -> Option<u128> {
    use regex_automata::dfa::{dense, Automaton, StartKind};
    use regex_automata::{nfa::thompson, Anchored, Input};
    use regex_syntax::hir::Look;
    if !props.look_set_suffix().contains(Look::End) || props.minimum_len().unwrap_or(0) == 0 {
        return None;
    }
    let dfa = dense::Builder::new()
        .configure(dense::Config::new().start_kind(StartKind::Anchored))
        .thompson(thompson::Config::new().reverse(true))
        .build(superset)
        .ok()?;
    let start = dfa
        .start_state_reverse(&Input::new("").anchored(Anchored::Yes))
        .ok()?;
    let mut set = 0u128;
    for b in 0u8..0x80 {
        if !dfa.is_dead_state(dfa.next_state(start, b)) {
            set |= 1 << b;
        }
    }
    Some(set)
}

/// The fewest bytes a match of a superset translation takes (`props`: its properties), 0 when
/// unknown. A match of the JavaScript regex in a text of BMP characters is a match of its
/// superset over the same characters, so it takes at least as many bytes of the UTF-8 text (a
/// text with characters beyond the BMP, where JavaScript can match half of one, is not bounded
/// by it). Most request paths are shorter than an unanchored rule such as onMatch's
/// `/_next/static/(…)/.+` can match: those are answered without a search (whose set-up was ~430
/// instructions).
fn min_match_len(props: &regex_syntax::hir::Properties) -> usize {
    props.minimum_len().unwrap_or(0)
}

/// Which of up to 128 [`JsRegex`]es can match a text, found in one pass: an automaton of their
/// superset translations. Regexes without a translation always count as candidates.
#[derive(Debug, Clone)]
pub struct RegexFilter {
    set: SetEngine,
    /// What each pattern of `set` stands for.
    members: Vec<Member>,
    /// Regexes outside `set`.
    always: u128,
    /// Members whose translation is exact ([`JsRegex::is_translated`]): for them the set's
    /// answer is the regex's own, on texts no longer than `exact_cap`.
    exact: u128,
    /// Members inexact only through negative lookarounds, whose guard is in `set` too: on a
    /// text where the guard finds none of the lookaround bodies, the translation is exact.
    guarded: u128,
    /// The smallest input cap of the exact and guarded members.
    exact_cap: usize,
}

/// A pattern of a [`RegexFilter`]'s automaton.
#[derive(Debug, Clone, Copy)]
enum Member {
    /// The translation of regex `i`.
    Translation(usize),
    /// The guard of regex `i` (the bodies of its negative lookarounds).
    Guard(usize),
}

/// What a [`RegexFilter`] found about a text.
#[derive(Debug, Clone, Copy)]
pub struct FilterMatches {
    /// Bit `i` set: regex `i` may match (unset: it certainly does not).
    pub may: u128,
    /// Bit `i` set: regex `i` certainly matches (its exact translation matched).
    pub sure: u128,
}

impl RegexFilter {
    /// `None` when there are more than 128 regexes or too few translated ones to gain anything
    /// (a regex alone answers as fast as a filter would, unless it has a guard to ask too).
    pub fn new<'a>(regexes: impl IntoIterator<Item = &'a JsRegex>) -> Option<Self> {
        let mut sources = Vec::new();
        let mut members = Vec::new();
        let mut always = 0u128;
        let mut exact = 0u128;
        let mut guarded = 0u128;
        let mut exact_cap = MAX_INPUT;
        for (i, re) in regexes.into_iter().enumerate() {
            if i >= 128 {
                return None;
            }
            match &re.linear_source {
                Some(s) => {
                    sources.push(s.as_str());
                    members.push(Member::Translation(i));
                    if re.is_translated() {
                        exact |= 1 << i;
                        exact_cap = exact_cap.min(re.cap);
                    } else if let Some(g) = &re.guard_source {
                        sources.push(g.as_str());
                        members.push(Member::Guard(i));
                        guarded |= 1 << i;
                        exact_cap = exact_cap.min(re.cap);
                    }
                }
                None => always |= 1 << i,
            }
        }
        if sources.len() < 2 {
            return None;
        }
        let label = |pattern: usize| match members[pattern] {
            Member::Translation(r) => (1 << r, 0),
            Member::Guard(r) => (0, 1 << r),
        };
        let set = SetEngine::new(&sources, label)?;
        Some(Self {
            set,
            members,
            always,
            exact,
            guarded,
            exact_cap,
        })
    }

    /// Bit `i` set: regex `i` may match `text` (unset: it certainly does not).
    pub fn candidates(&self, text: &str) -> u128 {
        self.matches(text).may
    }

    /// Which regexes may match `text`, and which certainly do.
    pub fn matches(&self, text: &str) -> FilterMatches {
        if beyond_bmp(text) {
            return FilterMatches {
                may: u128::MAX,
                sure: 0,
            };
        }
        let (m, bodies) = match &self.set {
            SetEngine::Dense(dense) => dense.walk(text),
            SetEngine::Set(set) => {
                let (mut m, mut bodies) = (0, 0);
                for i in set.matches(text).iter() {
                    match self.members[i] {
                        Member::Translation(r) => m |= 1 << r,
                        Member::Guard(r) => bodies |= 1 << r,
                    }
                }
                (m, bodies)
            }
        };
        FilterMatches {
            may: m | self.always,
            sure: if text.len() <= self.exact_cap {
                m & (self.exact | (self.guarded & !bodies))
            } else {
                0
            },
        }
    }
}

/// The automaton of a [`RegexFilter`]: a dense DFA, compiled ahead (a routing phase's few
/// patterns make a small one), whose pass over a path is a table lookup per byte; a `RegexSet`
/// (a lazy DFA behind more bookkeeping per search, ~1.2k instructions a pass) where the dense
/// DFA would be too large.
// (A filter is built once and stays where it is: the dense variant's size is no cost, and a box
// would cost a load more per walk.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum SetEngine {
    Dense(DenseSet),
    Set(regex::RegexSet),
}

/// Bytes a filter's dense DFA may take (with the memory used to build it, four times that).
const DENSE_LIMIT: usize = 1 << 20;

/// The all-matches dense DFA of `sources`, and whether every pattern is anchored at the start;
/// `None` past [`DENSE_LIMIT`] (or for what a DFA cannot do, such as a Unicode word boundary).
pub(super) fn dense_dfa(
    sources: &[&str],
) -> Option<(regex_automata::dfa::dense::DFA<Vec<u32>>, bool)> {
    use regex_automata::dfa::{dense, StartKind};
    let nfa = regex_automata::nfa::thompson::Compiler::new()
        .build_many(sources)
        .ok()?;
    let anchored = nfa.is_always_start_anchored();
    let start = if anchored {
        StartKind::Anchored
    } else {
        StartKind::Unanchored
    };
    let dfa = dense::Builder::new()
        .configure(
            dense::Config::new()
                .match_kind(regex_automata::MatchKind::All)
                .start_kind(start)
                .dfa_size_limit(Some(DENSE_LIMIT))
                .determinize_size_limit(Some(4 * DENSE_LIMIT)),
        )
        .build_from_nfa(&nfa)
        .ok()?;
    Some((dfa, anchored))
}

/// Two sets of up to 128 bits each: what a [`RegexFilter`]'s patterns stand for (the regexes
/// whose translation matched, the regexes whose guard matched).
type Bits = (u128, u128);

/// An all-matches dense DFA ([`dense_dfa`]) as a table of its own, with, for each of its match
/// states, the union of what its patterns stand for: a walk over a text ORs one table entry into
/// its answer per match state it enters, instead of asking the DFA for each pattern of each such
/// state.
///
/// The table holds only the states a walk can reach, numbered so that the dead state is 0 and
/// the match states come next: one comparison per byte tells whether the walk must look at the
/// state, where the DFA's own test also stops at its accelerated and start states. (The table's
/// step is a few instructions shorter than the DFA's: the walk runs on several phases' filters
/// for every request.)
#[derive(Debug, Clone)]
pub(super) struct DenseSet {
    /// By state (its number shifted left by `stride2`) and byte class: the next state, shifted
    /// likewise. The end-of-input transition is at class `eoi`.
    table: Box<[u32]>,
    /// The class of each byte.
    classes: [u8; 256],
    eoi: u32,
    /// The state a search from a text's first byte starts in (anchored when every pattern is:
    /// a text no pattern can begin is left at its first bytes, on a dead state).
    start: u32,
    /// The last match state: every state up to it is the dead state or a match state.
    last_match: u32,
    /// By state number, for the dead state and the match states: their patterns' bits.
    bits: Box<[Bits]>,
    stride2: u32,
    /// Whether every pattern is anchored at the start (the search is then anchored); the
    /// start state says it to the walk, this to the tests.
    #[cfg_attr(not(test), allow(dead_code))]
    anchored: bool,
}

impl DenseSet {
    /// `label(pattern)`: what pattern `pattern` of the DFA stands for. `None` when a state the
    /// walk could enter is a quit state (the DFA gives up on a byte: no pattern here needs one).
    pub(super) fn new(
        dfa: regex_automata::dfa::dense::DFA<Vec<u32>>,
        anchored: bool,
        label: impl Fn(usize) -> Bits,
    ) -> Option<Self> {
        use regex_automata::dfa::Automaton;
        use regex_automata::util::primitives::StateID;
        use regex_automata::util::start;
        use std::collections::{HashMap, HashSet};
        let mode = if anchored {
            regex_automata::Anchored::Yes
        } else {
            regex_automata::Anchored::No
        };
        // A search from offset 0 has no look-behind: the same start state for every text.
        let start = dfa.start_state(&start::Config::new().anchored(mode)).ok()?;
        let classes = dfa.byte_classes();
        let units: Vec<_> = classes.representatives(..).collect();
        // Every state a walk can enter, found from the start by every byte class (and the
        // end-of-input transition).
        let mut reached: Vec<StateID> = vec![start];
        let mut seen: HashSet<StateID> = HashSet::from([start]);
        let mut at = 0;
        while let Some(&sid) = reached.get(at) {
            at += 1;
            if dfa.is_quit_state(sid) {
                return None;
            }
            if dfa.is_dead_state(sid) {
                continue;
            }
            for unit in &units {
                let next = match unit.as_u8() {
                    Some(b) => dfa.next_state(sid, b),
                    None => dfa.next_eoi_state(sid),
                };
                if seen.insert(next) {
                    reached.push(next);
                }
            }
        }
        // Numbers: the dead state 0, the match states next, then the others.
        let dead = StateID::ZERO;
        if !dfa.is_dead_state(dead) {
            return None;
        }
        let mut order: Vec<StateID> = vec![dead];
        order.extend(
            reached
                .iter()
                .copied()
                .filter(|&s| s != dead && dfa.is_match_state(s)),
        );
        let matches = order.len();
        order.extend(
            reached
                .iter()
                .copied()
                .filter(|&s| s != dead && !dfa.is_match_state(s)),
        );
        let number: HashMap<StateID, u32> = order
            .iter()
            .enumerate()
            .map(|(i, &s)| (s, u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        let eoi = classes.eoi().as_usize();
        let stride2 = (eoi + 1).next_power_of_two().trailing_zeros();
        let shifted = |s: StateID| number.get(&s).map_or(0, |&n| n << stride2);
        let mut table = vec![0u32; order.len() << stride2];
        let mut bits = vec![(0u128, 0u128); matches];
        for (n, &sid) in order.iter().enumerate() {
            if n > 0 && n < matches {
                for k in 0..dfa.match_len(sid) {
                    let (a, b) = label(dfa.match_pattern(sid, k).as_usize());
                    bits[n].0 |= a;
                    bits[n].1 |= b;
                }
            }
            if dfa.is_dead_state(sid) {
                continue;
            }
            let row = n << stride2;
            for unit in &units {
                let (class, next) = match unit.as_u8() {
                    Some(b) => (usize::from(classes.get(b)), dfa.next_state(sid, b)),
                    None => (eoi, dfa.next_eoi_state(sid)),
                };
                table[row + class] = shifted(next);
            }
        }
        let mut class_of = [0u8; 256];
        for (b, c) in class_of.iter_mut().enumerate() {
            *c = classes.get(u8::try_from(b).unwrap_or(0));
        }
        Some(Self {
            table: table.into(),
            classes: class_of,
            eoi: u32::try_from(eoi).ok()?,
            start: shifted(start),
            last_match: u32::try_from(matches - 1).ok()? << stride2,
            bits: bits.into(),
            stride2,
            anchored,
        })
    }

    /// The union of the bits of every pattern that matches somewhere in `text`. Every match of
    /// every pattern ends in a match state of this all-matches DFA (entered one byte late, or on
    /// the end-of-input transition), so one walk sees them all; it ends early on the dead state.
    #[inline]
    pub(super) fn walk(&self, text: &str) -> Bits {
        let table = &*self.table;
        let mut out: Bits = (0, 0);
        let mut add = |sid: u32| {
            if let Some((a, b)) = self.bits.get((sid >> self.stride2) as usize) {
                out.0 |= a;
                out.1 |= b;
            }
        };
        let mut sid = self.start;
        for &b in text.as_bytes() {
            sid = self.step(table, sid, b);
            if sid <= self.last_match {
                if sid == 0 {
                    return out;
                }
                add(sid);
            }
        }
        add(self.step_eoi(table, sid));
        out
    }

    /// The state after `sid` on byte `b`. (Every entry is a state's row: a missing one cannot
    /// happen, and reads as dead.)
    #[inline(always)]
    fn step(&self, table: &[u32], sid: u32, b: u8) -> u32 {
        let next = sid as usize + usize::from(self.classes[usize::from(b)]);
        table.get(next).copied().unwrap_or(0)
    }

    /// The state after `sid` on the end-of-input transition.
    #[inline(always)]
    fn step_eoi(&self, table: &[u32], sid: u32) -> u32 {
        table.get((sid + self.eoi) as usize).copied().unwrap_or(0)
    }

    /// Where matches of an anchored DFA's patterns end in `text`, in order, into `ends`: how
    /// many; `None` when there are more than `ends` holds. (A match state is entered one byte
    /// after the match's end, or on the end-of-input transition.)
    pub(super) fn ends<const N: usize>(&self, text: &str, ends: &mut [usize; N]) -> Option<usize> {
        let table = &*self.table;
        let mut n = 0;
        let mut sid = self.start;
        for (i, &b) in text.as_bytes().iter().enumerate() {
            sid = self.step(table, sid, b);
            if sid <= self.last_match {
                if sid == 0 {
                    return Some(n);
                }
                *ends.get_mut(n)? = i;
                n += 1;
            }
        }
        let last = self.step_eoi(table, sid);
        if last != 0 && last <= self.last_match {
            *ends.get_mut(n)? = text.len();
            n += 1;
        }
        Some(n)
    }
}

impl SetEngine {
    /// The dense DFA of `sources`, else a `RegexSet`. `label` as [`DenseSet::new`] takes it.
    fn new(sources: &[&str], label: impl Fn(usize) -> Bits) -> Option<Self> {
        let dense =
            dense_dfa(sources).and_then(|(dfa, anchored)| DenseSet::new(dfa, anchored, label));
        match dense {
            Some(d) => Some(Self::Dense(d)),
            None => regex::RegexSetBuilder::new(sources)
                .size_limit(1 << 24)
                .build()
                .ok()
                .map(Self::Set),
        }
    }
}

/// The `regex`-syntax translations of a JavaScript pattern (see [`JsRegex`]).
struct Translation {
    exact: Option<String>,
    superset: Option<String>,
    /// Inexact only through negative lookarounds (no positive one, no capture inside a repeated
    /// group): the translated bodies of those lookarounds. On a text where none of them can
    /// match anywhere, the lookarounds never reject and `superset` is exact.
    negative_bodies: Option<Vec<String>>,
    /// The pattern cut where its one negative lookahead stands (see [`LookaheadCut`]).
    cut: Option<LookaheadCut>,
}

/// A pattern `^X(?!B)Y` whose lookahead no quantifier repeats and no alternative skips (every
/// group around it is unquantified and without `|` at its level, and so is the pattern), as
/// three translations: `prefix` (`^X`, its open groups closed), `body` (`B`) and `suffix`
/// (`Y`, its groups reopened). It matches where `prefix` ends at some `p`, `body` matches at
/// no prefix of the text from `p`, and `suffix` matches from `p`: the lookahead is asked only
/// where it stands, instead of a guard searching the whole text for its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LookaheadCut {
    pub(super) prefix: String,
    pub(super) body: String,
    pub(super) suffix: String,
    /// Whether `suffix` ends with `$` outside any group: its matches end at the text's end.
    pub(super) end_anchored: bool,
}

/// What [`translate`] notes, read left to right, to cut a pattern at its negative lookahead.
#[derive(Default)]
struct CutTracker {
    /// Group numbers of the open groups (parallel to `translate`'s stack).
    open: Vec<usize>,
    next: usize,
    /// By group number: `|` at its level; a quantifier on it.
    alternation: Vec<bool>,
    quantified: Vec<bool>,
    /// `|` outside every group.
    top_alternation: bool,
    lookarounds: usize,
    /// The first lookaround: its group number, where it opened in the output, the groups
    /// around it, and whether it is a negative lookahead.
    look: Option<(usize, usize, Vec<usize>, bool)>,
    /// Where the output continues after the lookaround's `(?:)` stand-in.
    look_end: Option<usize>,
    /// A `^` inside the lookaround's body or after it.
    caret_after: bool,
    /// The last atom is `$` outside every group.
    ends_with_dollar: bool,
}

impl CutTracker {
    fn open_group(&mut self, lookaround: Option<bool>, at: usize) {
        let id = self.next;
        self.next += 1;
        self.alternation.push(false);
        self.quantified.push(false);
        if let Some(negative_lookahead) = lookaround {
            self.lookarounds += 1;
            if self.look.is_none() {
                self.look = Some((id, at, self.open.clone(), negative_lookahead));
            }
        }
        self.open.push(id);
    }

    /// Closes the innermost group; its number. `end`: the output's length after it.
    fn close_group(&mut self, end: usize) -> Option<usize> {
        let id = self.open.pop()?;
        if self.look.as_ref().is_some_and(|l| l.0 == id) {
            self.look_end = Some(end);
        }
        Some(id)
    }

    fn alternation(&mut self) {
        match self.open.last() {
            Some(&id) => self.alternation[id] = true,
            None => self.top_alternation = true,
        }
    }

    fn finish(self, out: &str, bodies: &[String], guardable: bool) -> Option<LookaheadCut> {
        let (_, open, around, negative_lookahead) = self.look?;
        let end = self.look_end?;
        let whole = self.lookarounds == 1 && negative_lookahead && guardable && !self.caret_after;
        if !whole
            || self.top_alternation
            || around
                .iter()
                .any(|&g| self.alternation[g] || self.quantified[g])
            || !out.starts_with('^')
            || out.get(open..end) != Some("(?:)")
        {
            return None;
        }
        let depth = around.len();
        Some(LookaheadCut {
            prefix: format!("{}{}", &out[..open], ")".repeat(depth)),
            body: bodies.first()?.clone(),
            suffix: format!("{}{}", "(?:".repeat(depth), &out[end..]),
            end_anchored: self.ends_with_dollar,
        })
    }
}

const JS_SPACE: &str = "\\t\\n\\x0B\\x0C\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}";

fn push_lit(out: &mut String, c: char, icase: bool) {
    if icase && c.is_ascii_alphabetic() {
        out.push('[');
        out.push(c.to_ascii_lowercase());
        out.push(c.to_ascii_uppercase());
        out.push(']');
    } else {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Class member escapes (`\\d`, `\\w`, `\\s`) as ASCII/JS sets; `None` for unsupported ones.
fn class_escape(c: char) -> Option<&'static str> {
    match c {
        'd' => Some("0-9"),
        'w' => Some("0-9A-Za-z_"),
        's' => Some(JS_SPACE),
        'n' => Some("\\n"),
        'r' => Some("\\r"),
        't' => Some("\\t"),
        'f' => Some("\\x0C"),
        'v' => Some("\\x0B"),
        _ => None,
    }
}

/// Translates a JavaScript (non-unicode) pattern. Anything not understood yields no program.
fn translate(source: &str, icase: bool) -> Translation {
    let none = Translation {
        exact: None,
        superset: None,
        negative_bodies: None,
        cut: None,
    };
    let mut cut = CutTracker::default();
    let mut last_closed_group: Option<usize> = None;
    // Per open group: whether it is a negative lookaround (parallel to `stack`).
    let mut negative: Vec<bool> = Vec::new();
    let mut bodies: Vec<String> = Vec::new();
    let mut guardable = true;
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len() * 2);
    let mut exact = true;
    // Per open group: (is lookaround, contains a capturing group, output length at open).
    let mut stack: Vec<(bool, bool, usize)> = Vec::new();
    // Whether the atom just emitted is a group containing a capture (a repeated one resets
    // them per iteration in JavaScript, not in the `regex` crate).
    let mut last_group_captures = false;
    // Whether the group just emitted can match the empty string. JavaScript rejects an
    // iteration of a quantified group that matches empty; the `regex` crate takes it, which
    // changes the match and its captures (`/(?:a*?)*/.exec('aa')` is `aa` in V8, empty there).
    let mut nullable = Nullable::new();
    let mut last_group_may_be_empty = false;
    let mut last_was_lookaround = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut group_captures = false;
        let mut group_may_be_empty = false;
        let mut was_lookaround = false;
        let mut closed_group = None;
        let mut dollar_outside = false;
        match c {
            '\\' => {
                let Some(&e) = chars.get(i + 1) else {
                    return none;
                };
                nullable.atom(false);
                i += 1;
                match e {
                    'd' => out.push_str("[0-9]"),
                    'D' => out.push_str("[^0-9]"),
                    'w' => out.push_str("[0-9A-Za-z_]"),
                    'W' => out.push_str("[^0-9A-Za-z_]"),
                    's' => {
                        out.push('[');
                        out.push_str(JS_SPACE);
                        out.push(']');
                    }
                    'S' => {
                        out.push_str("[^");
                        out.push_str(JS_SPACE);
                        out.push(']');
                    }
                    'n' | 'r' | 't' | 'f' | 'v' => {
                        out.push('[');
                        out.push_str(class_escape(e).unwrap_or(""));
                        out.push(']');
                    }
                    e if e.is_ascii_punctuation() => push_lit(&mut out, e, false),
                    _ => return none,
                }
            }
            '.' => {
                nullable.atom(false);
                out.push_str("[^\\n\\r\\x{2028}\\x{2029}]");
            }
            '[' => {
                nullable.atom(false);
                let mut j = i + 1;
                let negated = chars.get(j) == Some(&'^');
                if negated {
                    j += 1;
                }
                let mut body = String::new();
                let mut empty = true;
                loop {
                    let Some(&k) = chars.get(j) else {
                        return none;
                    };
                    if k == ']' {
                        break;
                    }
                    empty = false;
                    if k == '\\' {
                        let Some(&e) = chars.get(j + 1) else {
                            return none;
                        };
                        j += 1;
                        if let Some(set) = class_escape(e) {
                            body.push_str(set);
                        } else if e.is_ascii_punctuation() {
                            if "[]\\^&-~".contains(e) {
                                body.push('\\');
                            }
                            body.push(e);
                        } else {
                            return none;
                        }
                    } else if !k.is_ascii() || (icase && k.is_ascii_alphabetic()) {
                        return none;
                    } else if k == '-' && chars.get(j + 1) != Some(&']') && !body.is_empty() {
                        body.push('-');
                    } else {
                        if "[]\\^&-~".contains(k) {
                            body.push('\\');
                        }
                        body.push(k);
                    }
                    j += 1;
                }
                if empty {
                    return none;
                }
                out.push('[');
                if negated {
                    out.push('^');
                }
                out.push_str(&body);
                out.push(']');
                i = j;
            }
            '(' => {
                nullable.open();
                let rest: String = chars[i + 1..chars.len().min(i + 4)].iter().collect();
                let open = out.len();
                if rest.starts_with("?:") {
                    cut.open_group(None, open);
                    out.push_str("(?:");
                    stack.push((false, false, open));
                    negative.push(false);
                    i += 2;
                } else if rest.starts_with("?=")
                    || rest.starts_with("?!")
                    || rest.starts_with("?<=")
                    || rest.starts_with("?<!")
                {
                    exact = false;
                    cut.open_group(Some(rest.starts_with("?!")), open);
                    out.push_str("(?:");
                    stack.push((true, false, open));
                    let neg = rest.starts_with("?!") || rest.starts_with("?<!");
                    guardable &= neg;
                    negative.push(neg);
                    i += if rest.starts_with("?<") { 3 } else { 2 };
                } else if rest.starts_with("?<") {
                    let Some(end) = chars[i..].iter().position(|c| *c == '>') else {
                        return none;
                    };
                    let name: String = chars[i + 3..i + end].iter().collect();
                    if name.is_empty()
                        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        return none;
                    }
                    cut.open_group(None, open);
                    out.push_str("(?P<");
                    out.push_str(&name);
                    out.push('>');
                    mark_capture(&mut stack);
                    stack.push((false, false, open));
                    negative.push(false);
                    i += end;
                } else if rest.starts_with('?') {
                    return none;
                } else {
                    cut.open_group(None, open);
                    out.push('(');
                    mark_capture(&mut stack);
                    stack.push((false, false, open));
                    negative.push(false);
                }
            }
            ')' => {
                let Some((look, captures, open)) = stack.pop() else {
                    return none;
                };
                group_may_be_empty = nullable.close();
                nullable.atom(look || group_may_be_empty);
                if negative.pop() == Some(true) {
                    // A group inside would vanish from the translation, renumbering the others.
                    guardable &= !captures;
                    bodies.push(out[open + 3..].to_string());
                }
                if look {
                    // Superset: the assertion is dropped (it only ever rejects).
                    out.truncate(open);
                    out.push_str("(?:)");
                    was_lookaround = true;
                } else {
                    out.push(')');
                    group_captures = captures;
                }
                if captures {
                    mark_capture(&mut stack);
                }
                closed_group = cut.close_group(out.len());
            }
            '*' | '+' | '?' | '{' => {
                let Some((_, max, end)) = super::hazard::quantifier(&chars, i) else {
                    // Annex B: a `{` that starts no quantifier is a literal.
                    out.push_str("\\{");
                    nullable.atom(false);
                    i += 1;
                    last_closed_group = None;
                    cut.ends_with_dollar = false;
                    last_group_captures = false;
                    last_group_may_be_empty = false;
                    last_was_lookaround = false;
                    continue;
                };
                let max_over_one = max > 1;
                let j = end - 1;
                if last_was_lookaround {
                    return none;
                }
                if let Some(g) = last_closed_group {
                    cut.quantified[g] = true;
                }
                // Even `?` matters for a body that may match empty: JavaScript rejects the empty
                // iteration and leaves the group's captures undefined.
                if (last_group_captures && max_over_one) || last_group_may_be_empty {
                    guardable = false;
                    exact = false;
                }
                if c == '*' || c == '?' || (c == '{' && chars.get(i + 1) == Some(&'0')) {
                    nullable.optional();
                }
                out.extend(&chars[i..=j]);
                i = j;
                if chars.get(i + 1) == Some(&'?') {
                    out.push('?');
                    i += 1;
                }
            }
            '|' => {
                nullable.alternative();
                cut.alternation();
                out.push(c);
            }
            '^' | '$' => {
                nullable.atom(true);
                cut.caret_after |= c == '^' && cut.look.is_some();
                dollar_outside = c == '$' && stack.is_empty();
                out.push(c);
            }
            c if c.is_ascii() => {
                nullable.atom(false);
                push_lit(&mut out, c, icase);
            }
            _ => return none,
        }
        last_group_captures = group_captures;
        last_group_may_be_empty = group_may_be_empty;
        last_was_lookaround = was_lookaround;
        last_closed_group = closed_group;
        cut.ends_with_dollar = dollar_outside;
        i += 1;
    }
    if !stack.is_empty() {
        return none;
    }
    Translation {
        exact: exact.then(|| out.clone()),
        cut: cut.finish(&out, &bodies, guardable),
        negative_bodies: (!exact && guardable && !bodies.is_empty()).then_some(bodies),
        superset: Some(out),
    }
}

/// Tracks, while a pattern is read left to right, whether each open group's body can match the
/// empty string: some alternative whose atoms can all match empty.
struct Nullable {
    levels: Vec<NullableLevel>,
}

struct NullableLevel {
    /// Every atom of the current alternative so far can match empty.
    alternative: bool,
    /// An earlier alternative can match empty.
    any: bool,
    /// The last atom, not yet committed: a quantifier may still make it optional.
    pending: Option<bool>,
}

impl Nullable {
    fn new() -> Self {
        Self {
            levels: vec![NullableLevel::new()],
        }
    }

    fn top(&mut self) -> &mut NullableLevel {
        if self.levels.is_empty() {
            self.levels.push(NullableLevel::new());
        }
        let last = self.levels.len() - 1;
        &mut self.levels[last]
    }

    fn commit(&mut self) {
        let top = self.top();
        if let Some(p) = top.pending.take() {
            top.alternative &= p;
        }
    }

    /// An atom that can (`true`) or cannot match empty.
    fn atom(&mut self, nullable: bool) {
        self.commit();
        self.top().pending = Some(nullable);
    }

    /// A quantifier with minimum 0 on the last atom.
    fn optional(&mut self) {
        if let Some(p) = self.top().pending.as_mut() {
            *p = true;
        }
    }

    fn alternative(&mut self) {
        self.commit();
        let top = self.top();
        top.any |= top.alternative;
        top.alternative = true;
    }

    fn open(&mut self) {
        self.commit();
        self.levels.push(NullableLevel::new());
    }

    /// Closes a group; whether its body can match empty.
    fn close(&mut self) -> bool {
        self.commit();
        let level = self.levels.pop().unwrap_or_else(NullableLevel::new);
        level.any || level.alternative
    }
}

impl NullableLevel {
    fn new() -> Self {
        Self {
            alternative: true,
            any: false,
            pending: None,
        }
    }
}

fn mark_capture(stack: &mut [(bool, bool, usize)]) {
    if let Some(top) = stack.last_mut() {
        top.1 = true;
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
            // Over budget only if every one of three tries is: on a loaded machine one try can
            // be preempted for a whole scheduler slice, which capped everyday patterns at a few
            // bytes and turned ordinary paths into non-matches for the router's lifetime.
            let over = (0..3).all(|_| {
                let start = Instant::now();
                let _ = re.find(&input);
                start.elapsed() > budget()
            });
            if over {
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
            out.push(super::hex_byte(*b.get(i + 1)?, *b.get(i + 2)?)?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Next's `encodeURIPath`: each `/`-separated segment as JavaScript's `encodeURIComponent`
/// writes it (everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` as `%XX` of its UTF-8 bytes,
/// upper-case hex). `next start` lists the files it serves under these names.
pub fn encode_uri_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    encode_except_into(&mut out, s, &URI_PATH_KEPT);
    out
}

/// JavaScript `encodeURIComponent` of `s`, appended to `out`.
pub fn encode_uri_component_into(out: &mut String, s: &str) {
    encode_except_into(out, s, &URI_COMPONENT_KEPT);
}

/// The bytes `encodeURIComponent` keeps as they are: ASCII letters, digits, `- _ . ! ~ * ' ( )`.
pub(super) const URI_COMPONENT_KEPT: [bool; 256] = kept_bytes(b"-_.!~*'()");
/// The bytes [`encode_uri_path`] keeps: [`URI_COMPONENT_KEPT`] and `/`.
const URI_PATH_KEPT: [bool; 256] = kept_bytes(b"/-_.!~*'()");

const fn kept_bytes(also: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = (c as u8).is_ascii_alphanumeric();
        c += 1;
    }
    let mut i = 0;
    while i < also.len() {
        t[also[i] as usize] = true;
        i += 1;
    }
    t
}

/// `s` with every byte `kept` does not keep as `%XX` (upper-case hex), appended to `out`.
fn encode_except_into(out: &mut String, s: &str, kept: &[bool; 256]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if kept[usize::from(b)] {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_each_segment_as_encode_uri_component() {
        assert_eq!(encode_uri_path("/docs/my file.txt"), "/docs/my%20file.txt");
        assert_eq!(encode_uri_path("/café.txt"), "/caf%C3%A9.txt");
        assert_eq!(
            encode_uri_path("/_next/static/chunks/pages/posts/[id]-0a.js"),
            "/_next/static/chunks/pages/posts/%5Bid%5D-0a.js"
        );
        assert_eq!(encode_uri_path("/a%20b+c&d=e"), "/a%2520b%2Bc%26d%3De");
        assert_eq!(encode_uri_path("/-_.!~*'()/AZaz09"), "/-_.!~*'()/AZaz09");
        assert_eq!(encode_uri_path("/😀"), "/%F0%9F%98%80");
    }

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

    /// The linear-time programs agree with `regress` (matches and captures).
    #[test]
    fn translation_agrees_with_regress() {
        let patterns = [
            (
                r"^(?:\/(_next\/data\/[^/]{1,}))?(?:\/((?!_next\/static|_next\/image|favicon.ico).*))(\.json|\.rsc|\.segments\/.+\.segment\.rsc)?[\/#\?]?$",
                false,
            ),
            (r"^(?:\/((?:[^\/]+?)(?:\/(?:[^\/]+?))*))?(?:\/)?$", true),
            (r"^\/about(?:\/)?$", true),
            (
                r"^[/]?/blog/(?<nxtPslug>[^/]+?)(\.rsc|\.segments/.+\.segment\.rsc|)(?:/)?$",
                true,
            ),
            (
                r"^\/base(?:\/(en|fr|de\-DE))(?:\/((?:[^\/]+?)(?:\/(?:[^\/]+?))*))?(?:\/)?$",
                true,
            ),
            (
                r"^(?:\/((?!\.well-known(?:\/.*)?)(?:[^/]+\/)*[^/]+\.\w+))\/$",
                false,
            ),
            (
                r"^/base[/]?(?<nextLocale>[^/]{1,})/posts/(?<nxtPid>[^/]+?)(?:/)?$",
                true,
            ),
            (
                r"/_next/static/(?:[^/]+/pages|pages|chunks|immutable|runtime|css|image|media|VDL\-nueJO8orcLy36NFwx)/.+",
                true,
            ),
            (r"^(a|(b))+$", false),
            (r"x{2,}y{,3}\s\d.", true),
            // Negative lookarounds: exact through `pre` where no body can match.
            (r"^(?!(ab))(a.)(?<!xb)b?$", false),
            (r"^\/(?!api\/|_next)(?<rest>.*?)(?<!\.json)$", false),
        ];
        let inputs = [
            "/",
            "",
            "/about",
            "/ABOUT",
            "/About/",
            "/about//",
            "/blog/first",
            "/blog/x.rsc",
            "/Blog/a.segments/_tree.segment.rsc",
            "/_next/data/abc/about.json",
            "/_next/static/chunks/x.js",
            "/_next/static/VDL-nueJO8orcLy36NFwx/a",
            "/base/fr/about/",
            "/base/DE-de/x/y",
            "/base/en",
            "/a/b.txt/",
            "/.well-known/a.txt/",
            "/favicon.ico",
            "/é/ü",
            "/a b/%20",
            "/base/fr/posts/1/",
            "abab",
            "aab",
            "xxy{,3} 1a",
            "xxx\u{feff}9\n",
            "/\u{1F600}/x",
            "/a\u{2028}b",
            "ab",
            "ac",
            "acb",
            "xbb",
            "/API/x",
            "/apix/y.json",
            "/_NEXT",
            "/other.JSON",
        ];
        for (p, expect_exact) in patterns {
            let re = JsRegex::new(p, "i").expect("compiles");
            if p.contains("(?!api") || p.starts_with(r"^(?:\/(_next") {
                assert!(re.guard.is_some(), "{p} is guarded");
                assert!(
                    re.pre_guard.is_some(),
                    "{p}: one DFA for the test and its guard"
                );
            }
            if p.contains("(?!(ab))") {
                assert!(
                    re.guard.is_none(),
                    "a group inside a lookaround: not guarded"
                );
            }
            assert_eq!(re.is_translated(), expect_exact, "{p}");
            let slow = JsRegex {
                fast: None,
                pre: None,
                bt: None,
                last_ascii: None,
                min_len: 0,
                ..re.clone()
            };
            for t in inputs {
                assert_eq!(re.is_match(t), slow.is_match(t), "{p} on {t:?}");
                let (a, b) = (re.captures(t), slow.captures(t));
                assert_eq!(
                    a.as_ref().map(|c| (&c.groups, &c.named)),
                    b.as_ref().map(|c| (&c.groups, &c.named)),
                    "{p} on {t:?}"
                );
            }
        }
    }

    #[test]
    fn a_text_ending_where_no_match_can_end_does_not_match() {
        // The trailing-slash redirect, run on every path: only `/` ends its matches.
        let slash = JsRegex::new(r"^(?:\/((?:[^\/]+?)(?:\/(?:[^\/]+?))*))\/$", "").expect("re");
        assert_eq!(slash.last_ascii, Some(1u128 << b'/'));
        let about = JsRegex::new(r"^\/about(?:\/)?$", "i").expect("re");
        assert_eq!(
            about.last_ascii,
            Some((1u128 << b'/') | (1u128 << b't') | (1u128 << b'T'))
        );
        // Not judged: matches that may end before the text does, or be empty.
        for p in [r"/_next/static/.+", r"^(?:\/)?$", r"^/a|b$", r"x?$"] {
            assert_eq!(JsRegex::new(p, "").expect("re").last_ascii, None, "{p}");
        }
        // Shorter than any match (in bytes of a text within the BMP).
        let static_files =
            JsRegex::new(r"/_next/static/(?:[^/]+/pages|pages|chunks)/.+", "i").expect("re");
        assert_eq!(static_files.min_len, "/_next/static/pages/x".len());
        assert!(static_files.cannot_end("/_next/static/a/x"));
        assert!(!static_files.cannot_end("/_next/static/pages/x"));
        assert!(static_files.is_match("/_next/static/pages/x"));
        // A text beyond the BMP is not judged by length: JavaScript may match half a character.
        let half = JsRegex::new(r"^..$", "").expect("re");
        assert!(!half.cannot_end("\u{1F600}"));
        // Wherever it says no, the JavaScript regex (regress) finds no match either: route
        // patterns on texts from an alphabet of path bytes, non-ASCII and non-BMP characters.
        let patterns = [
            r"^(?:\/((?:[^\/]+?)(?:\/(?:[^\/]+?))*))\/$",
            r"^\/about(?:\/)?$",
            r"^[/]?/blog/(?<nxtPslug>[^/]+?)(\.rsc|\.segments/.+\.segment\.rsc|)(?:/)?$",
            r"^/_next/data/abc[/]?/posts/(?<nxtPid>[^/]+?)\.json(?:/)?$",
            r"^(?:\/((?!\.well-known(?:\/.*)?)(?:[^/]+\/)*[^/]+\.\w+))\/$",
            r"^\/(?!api\/|_next)(?<rest>.*?)(?<!\.json)$",
            r"^[^/]{2}$",
            r"^.\d$",
            // Unanchored, judged by length only.
            r"/_next/static/(?:[^/]+/pages|pages|chunks)/.+",
            r"json\.\d",
            r"(?:\.\.){2}",
        ];
        let alphabet = [
            "/",
            "a",
            "t",
            "T",
            ".",
            "json",
            "1",
            "%",
            "\u{e9}",
            "\u{1F600}",
            "\u{2028}",
            "\\",
        ];
        let mut seed = 0x9e37_79b9_u32;
        let mut judged = 0;
        for p in patterns {
            for flags in ["", "i"] {
                let re = JsRegex::new(p, flags).expect("re");
                for _ in 0..400 {
                    let mut t = String::new();
                    for _ in 0..(seed % 7) {
                        seed ^= seed << 13;
                        seed ^= seed >> 17;
                        seed ^= seed << 5;
                        t.push_str(alphabet[(seed % alphabet.len() as u32) as usize]);
                    }
                    seed = seed.wrapping_mul(0x2c1b_3c6d).wrapping_add(1);
                    if re.cannot_end(&t) {
                        judged += 1;
                        assert!(re.re.find(&t).is_none(), "{p} /{flags} on {t:?}");
                    }
                }
            }
        }
        assert!(judged > 1000, "the check judged {judged} texts");
    }

    #[test]
    fn decode() {
        assert_eq!(decode_uri_component("/a%20b").as_deref(), Some("/a b"));
        assert_eq!(decode_uri_component("%E2%82%AC").as_deref(), Some("€"));
        assert_eq!(decode_uri_component("%"), None);
        assert_eq!(decode_uri_component("%zz"), None);
        assert_eq!(decode_uri_component("%C3"), None);
    }

    /// Without the `u` flag a character beyond the BMP is two characters (UTF-16 code units) to
    /// a JavaScript regex; a capture that splits one holds a lone surrogate there, read as U+FFFD.
    /// (What V8 answers: `/^.$/.test('😀')` false, `/^..$/.test('😀')` true, and so on; the
    /// routing test checks the same against V8 through `@next/routing`.)
    #[test]
    fn texts_beyond_the_bmp_are_utf16_code_units_without_the_u_flag() {
        let is = |p: &str, f: &str, t: &str| JsRegex::new(p, f).expect(p).is_match(t);
        let groups = |p: &str, t: &str| {
            JsRegex::new(p, "").expect(p).captures(t).map(|c| {
                c.groups
                    .into_iter()
                    .map(|g| g.map(String::from))
                    .collect::<Vec<_>>()
            })
        };
        assert!(!is("^.$", "", "😀"));
        assert!(is("^..$", "", "😀"));
        assert!(is("^.$", "u", "😀"));
        assert!(!is("^..$", "u", "😀"));
        assert!(is("^a.{3}b$", "i", "A😀éB"));
        assert!(is("^[^/]{2}$", "", "😀"));
        assert!(!is("^\\w+$", "", "a😀"));
        assert!(is("^(?<v>.*)$", "", "x😀y"));
        // A pattern naming a code unit (or a stand-in) keeps the code-point answer.
        assert!(!ucs2_matchable("^[\\uD800-\\uDFFF]{2}$"));
        assert!(!ucs2_matchable("[\\ue000-\\ue7ff]"));
        assert!(!ucs2_matchable("😀"));
        assert!(!ucs2_matchable("\\u{1F600}?"));
        assert!(ucs2_matchable("^[\\u0000-\\uFFFF]{2}$"));
        let s = |v: &str| Some(v.to_string());
        assert_eq!(groups("^(.+)$", "a😀b"), Some(vec![s("a😀b"), s("a😀b")]));
        assert_eq!(
            groups("^(.)(.)$", "😀"),
            Some(vec![s("😀"), s("\u{FFFD}"), s("\u{FFFD}")])
        );
        assert_eq!(
            groups("^(.)(.).$", "é😀"),
            Some(vec![s("é😀"), s("é"), s("\u{FFFD}")])
        );
        // The text's own characters in the stand-ins' range are themselves.
        assert_eq!(
            groups("^(.)(..)$", "\u{E000}😀"),
            Some(vec![s("\u{E000}😀"), s("\u{E000}"), s("😀")])
        );
        assert_eq!(groups("^(.)$", "😀"), None);
        // The input cap bounds the text `regress` is given: here half as long again.
        assert_eq!(MAX_INPUT, 8192);
        assert!(is("^.*$", "", &"😀".repeat(1365)));
        assert!(!is("^.*$", "", &"😀".repeat(1366)));
    }

    /// A lookahead route (middleware's usual matcher) is decided by the filter's walk wherever
    /// none of its lookahead bodies occurs: the guard is asked in the same walk.
    #[test]
    fn a_guarded_regex_is_sure_where_its_guard_finds_nothing() {
        let sources = [
            "^(?:\\/(_next\\/data\\/[^/]{1,}))?(?:\\/((?!_next\\/static|_next\\/image|favicon.ico).*))(\\.json|\\.rsc|\\.segments\\/.+\\.segment\\.rsc)?[\\/#\\?]?$",
            "^\\/about(?:\\/)?$",
        ];
        let regexes: Vec<JsRegex> = sources
            .iter()
            .map(|s| JsRegex::new(s, "").expect("valid"))
            .collect();
        assert!(regexes[0].guard_source.is_some());
        let filter = RegexFilter::new(&regexes).expect("a filter");
        for (text, sure) in [
            ("/", true),
            ("/about", true),
            ("/blog/x.rsc", true),
            ("/_next/data/b/x.json", true),
            ("/_next/static/chunks/a.js", false),
            ("/x/_next/image", false),
            ("/favicon.ico", false),
            ("/favicon-ico", false),
            ("/é", true),
            ("/😀", false),
            ("x", false),
        ] {
            let m = filter.matches(text);
            let is = regexes[0].is_match(text);
            assert_eq!(m.sure & 1 == 1, sure && is, "{text:?}");
            assert!(!is || m.may & 1 == 1, "{text:?}");
            assert!(is || m.sure & 1 == 0, "{text:?}");
        }
    }

    /// Next's route shapes get the dense DFA (anchored when every pattern is), and it answers as
    /// the `RegexSet` does.
    #[test]
    fn route_filters_take_the_dense_dfa_and_agree_with_a_regex_set() {
        let anchored = [
            "^/posts/(?<nxtPid>[^/]+?)(?:/)?$",
            "^(?:\\/((?:[^\\/]+?)(?:\\/(?:[^\\/]+?))*))\\/$",
            "^/_next/data/abc[/]?/docs/(?<nxtPslug>[^/]+?)\\.json(?:/)?$",
        ];
        // The guard of a negative lookahead (its bodies, found anywhere) is unanchored.
        let unanchored = [
            "/_next/static/(?:[^/]+/pages|pages|chunks)/.+",
            "^/about$",
            "^(?:\\/(_next\\/data\\/[^/]{1,}))?(?:\\/((?!_next\\/static|favicon.ico).*))(\\.json|\\.rsc)?[\\/#\\?]?$",
        ];
        let texts = [
            "",
            "/",
            "/posts/1",
            "/posts/1/",
            "/posts/",
            "/a/b/",
            "/_next/data/abc/docs/x.json",
            "/_next/static/chunks/a.js",
            "/x/_next/static/pages/y",
            "/about",
            "/favicon.ico",
            "/é/ü",
            "/%2F",
            "/posts/\u{2028}",
        ];
        for (sources, want_anchored) in [(&anchored[..], true), (&unanchored[..], false)] {
            let regexes: Vec<JsRegex> = sources
                .iter()
                .filter_map(|s| JsRegex::new(s, "").ok())
                .collect();
            assert_eq!(regexes.len(), sources.len());
            let filter = RegexFilter::new(&regexes);
            assert!(
                matches!(&filter, Some(f) if matches!(&f.set, SetEngine::Dense(d) if d.anchored == want_anchored)),
                "{sources:?}"
            );
            let Some(filter) = filter else { return };
            let linear: Vec<&str> = regexes
                .iter()
                .filter_map(|r| r.linear_source.as_deref())
                .collect();
            // Every regex has a translation: bit `i` is regex `i`.
            assert_eq!(linear.len(), regexes.len());
            let set = regex::RegexSet::new(&linear).ok();
            for text in texts {
                let SetEngine::Dense(d) = &filter.set else {
                    unreachable!()
                };
                let bits = d.walk(text).0;
                let dense: Vec<usize> = (0..regexes.len()).filter(|i| bits >> i & 1 == 1).collect();
                let want: Vec<usize> = set
                    .iter()
                    .flat_map(|s| s.matches(text).into_iter())
                    .collect();
                assert_eq!(dense, want, "{text:?} on {sources:?}");
            }
        }
    }
}
