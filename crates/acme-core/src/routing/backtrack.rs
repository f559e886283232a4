//! A backtracking matcher for the JavaScript regexes routing runs on every request, on ASCII text.
//!
//! Next's route regexes (path-to-regexp output, middleware matchers, `has` values) use a small
//! part of the language: literals, classes, groups with quantifiers, alternation, anchors and
//! lookaheads. For those, a plain backtracking walk over the parsed pattern *is* the ECMAScript
//! algorithm (ordered alternatives, greedy and lazy quantifiers, captures reset per iteration, an
//! iteration that matches empty rejected, atomic lookaheads), so its answers are V8's. On ASCII
//! text a character is one UTF-16 code unit and one byte, which is what makes bytes enough.
//!
//! It exists for speed: a route regex fails or matches within a few bytes here, where the
//! `regex` crate's search plus its capture engine cost several times more per route. Patterns
//! outside the subset are not compiled ([`Program::compile`] answers `None`), and a match that
//! would backtrack too long or recurse too deep gives up ([`Abort`]): the caller then asks the
//! general engines, so no answer depends on this module's limits.

/// Most capture groups a compiled pattern may have.
const MAX_CAPS: usize = 16;
/// Steps (sequence entries and quantifier choices) one match may take before giving up.
const MAX_STEPS: u32 = 20_000;
/// Nested choice points one match may hold before giving up (each costs a few stack frames:
/// see the test `deep_matches_stay_within_a_small_stack`).
const MAX_DEPTH: u32 = 100;
/// An unset capture position (positions are `u16`: the saved capture arrays stay small on the
/// stack, and texts longer than [`MAX_TEXT`] are not matched here).
const UNSET: u16 = u16::MAX;
/// Longest text matched here.
const MAX_TEXT: usize = u16::MAX as usize - 1;

/// A set of ASCII bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ByteSet(u128);

impl ByteSet {
    const EMPTY: ByteSet = ByteSet(0);

    fn range(lo: u8, hi: u8) -> Self {
        let mut s = Self::EMPTY;
        for b in lo..=hi.min(127) {
            s.0 |= 1 << b;
        }
        s
    }

    fn one(b: u8) -> Self {
        Self::range(b, b)
    }

    fn contains(self, b: u8) -> bool {
        b < 128 && (self.0 >> b) & 1 == 1
    }

    fn union(self, o: Self) -> Self {
        ByteSet(self.0 | o.0)
    }

    fn invert(self) -> Self {
        ByteSet(!self.0)
    }

    /// Closed under ASCII case: what a class matches with the `i` flag, for ASCII text (non-ASCII
    /// members never canonicalize to an ASCII character in non-unicode mode).
    fn fold_case(self) -> Self {
        let mut s = self;
        for b in b'a'..=b'z' {
            let u = b.to_ascii_uppercase();
            if self.contains(b) || self.contains(u) {
                s.0 |= (1 << b) | (1 << u);
            }
        }
        s
    }
}

fn word() -> ByteSet {
    ByteSet::range(b'a', b'z')
        .union(ByteSet::range(b'A', b'Z'))
        .union(ByteSet::range(b'0', b'9'))
        .union(ByteSet::one(b'_'))
}

fn digit() -> ByteSet {
    ByteSet::range(b'0', b'9')
}

/// `\s` on ASCII: space, tab, LF, VT, FF, CR.
fn space() -> ByteSet {
    ByteSet::one(b' ').union(ByteSet::range(b'\t', b'\r'))
}

#[derive(Debug)]
enum Node {
    /// Bytes to match in order (lower-cased with the `i` flag).
    Lit(Vec<u8>),
    /// A class (case-closed with `i`), repeated `min..=max` times.
    Class {
        set: ByteSet,
        min: u32,
        max: u32,
        greedy: bool,
        /// What can come right after the repetition (see [`Follow`]).
        follow: Follow,
    },
    Group(Box<Group>),
    /// `(?=…)` / `(?!…)`.
    Look {
        negative: bool,
        alts: Vec<Vec<Node>>,
    },
    /// `^` (no `m` flag: the start of the text).
    Start,
    /// `$`.
    End,
}

#[derive(Debug)]
struct Group {
    /// Its capture number, for a capturing group.
    cap: Option<usize>,
    /// The captures inside it (itself included), reset at each iteration.
    caps: std::ops::Range<usize>,
    alts: Vec<Vec<Node>>,
    min: u32,
    max: u32,
    greedy: bool,
}

/// What the text can hold right after a point of the pattern: a byte of `set`, or the end of the
/// text when `end`; `any` when that is not known. A repetition only stops where its follow can
/// start, which skips the backtracking over every other length of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Follow {
    set: ByteSet,
    end: bool,
    any: bool,
}

impl Follow {
    const ANY: Follow = Follow {
        set: ByteSet::EMPTY,
        end: true,
        any: true,
    };
    const END: Follow = Follow {
        set: ByteSet::EMPTY,
        end: true,
        any: false,
    };
    const NONE: Follow = Follow {
        set: ByteSet::EMPTY,
        end: false,
        any: false,
    };

    /// A byte of `set` (and not the end of the text).
    fn byte_of(set: ByteSet) -> Follow {
        Follow {
            set,
            end: false,
            any: false,
        }
    }

    fn union(self, o: Follow) -> Follow {
        Follow {
            set: self.set.union(o.set),
            end: self.end || o.end,
            any: self.any || o.any,
        }
    }

    /// Whether the text can continue at `pos`.
    fn allows(self, text: &[u8], pos: usize) -> bool {
        self.any
            || match text.get(pos) {
                Some(&b) => self.set.contains(b),
                None => self.end,
            }
    }
}

/// What can start `nodes` followed by `after` (the start of the rest of the pattern).
fn first(nodes: &[Node], after: Follow, icase: bool) -> Follow {
    let Some((node, rest)) = nodes.split_first() else {
        return after;
    };
    match node {
        Node::Lit(b) => {
            let set = ByteSet::one(b[0]);
            Follow::byte_of(if icase { set.fold_case() } else { set })
        }
        Node::Class { set, min, .. } => {
            let here = Follow::byte_of(*set);
            if *min > 0 {
                here
            } else {
                here.union(first(rest, after, icase))
            }
        }
        Node::Start => first(rest, after, icase),
        Node::End => Follow::END,
        Node::Look { .. } => Follow::ANY,
        Node::Group(g) => {
            let tail = first(rest, after, icase);
            let at_end = body_end(g, tail, icase);
            let mut out = if g.min == 0 { tail } else { Follow::NONE };
            for alt in &g.alts {
                out = out.union(first(alt, at_end, icase));
            }
            out
        }
    }
}

/// What can follow an iteration of `g`: another iteration (when more are allowed) or `tail`.
fn body_end(g: &Group, tail: Follow, icase: bool) -> Follow {
    if g.max <= 1 {
        return tail;
    }
    // An iteration's start, with an empty body taken as "anything" (no recursion into itself).
    let again = g.alts.iter().fold(Follow::NONE, |acc, alt| {
        acc.union(first(alt, Follow::ANY, icase))
    });
    again.union(tail)
}

/// Sets the follow of every repetition in `nodes`, given what can follow `nodes` as a whole.
fn annotate(nodes: &mut [Node], after: Follow, icase: bool) {
    for i in (0..nodes.len()).rev() {
        let (head, rest) = nodes.split_at_mut(i + 1);
        let rest_first = first(rest, after, icase);
        match &mut head[i] {
            Node::Class { follow, .. } => *follow = rest_first,
            Node::Group(g) => {
                let end_of_body = body_end(g, rest_first, icase);
                for alt in &mut g.alts {
                    annotate(alt, end_of_body, icase);
                }
            }
            Node::Look { alts, .. } => {
                for alt in alts {
                    annotate(alt, Follow::ANY, icase);
                }
            }
            Node::Lit(_) | Node::Start | Node::End => {}
        }
    }
}

/// A compiled pattern.
#[derive(Debug)]
pub struct Program {
    alts: Vec<Vec<Node>>,
    /// Capture groups, group 0 (the match) included.
    groups: usize,
    icase: bool,
    /// Every alternative starts with `^`: only a match at 0 is possible.
    anchored: bool,
    /// What a match can begin with: an unanchored search skips the other positions (Next's
    /// `onMatch` route `/_next/static/…` runs on every routed path, and entering the match at
    /// each of a path's positions cost more than the rest of the search).
    starts: Follow,
    /// Named groups in pattern order, with their numbers.
    names: Vec<(String, usize)>,
}

/// The match gave up (too many steps or too deep): ask another engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Abort;

/// Capture positions of a match: `(start, end)` per group, `None` for groups that did not take
/// part.
pub type Slots = Vec<Option<(usize, usize)>>;

/// A match as the matcher leaves it: its capture array, start and end.
type Found = ([u16; 2 * MAX_CAPS], usize, usize);

struct Parser<'a> {
    p: &'a [u8],
    i: usize,
    icase: bool,
    caps: usize,
    names: Vec<(String, usize)>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.p.get(self.i).copied()
    }

    fn alts(&mut self) -> Option<Vec<Vec<Node>>> {
        let mut alts = vec![self.seq()?];
        while self.peek() == Some(b'|') {
            self.i += 1;
            alts.push(self.seq()?);
        }
        Some(alts)
    }

    fn seq(&mut self) -> Option<Vec<Node>> {
        let mut out: Vec<Node> = Vec::new();
        while let Some(c) = self.peek() {
            let atom = match c {
                b'|' | b')' => break,
                b'^' => {
                    self.i += 1;
                    Node::Start
                }
                b'$' => {
                    self.i += 1;
                    Node::End
                }
                b'(' => self.group()?,
                b'[' => self.class()?,
                b'.' => {
                    self.i += 1;
                    self.set(ByteSet::one(b'\n').union(ByteSet::one(b'\r')).invert())
                }
                b'\\' => self.escape()?,
                // Quantifiers without an atom, and the characters that are literal in JavaScript
                // only by the web-compatibility grammar: not compiled.
                b'*' | b'+' | b'?' | b'{' | b'}' | b']' => return None,
                c if (0x20..0x7f).contains(&c) => {
                    self.i += 1;
                    self.lit(c)
                }
                _ => return None,
            };
            let atom = self.quantified(atom)?;
            // A non-capturing group taken once with one alternative is its sequence.
            let nodes = match atom {
                Node::Group(g)
                    if g.cap.is_none() && g.min == 1 && g.max == 1 && g.alts.len() == 1 =>
                {
                    g.alts.into_iter().next().unwrap_or_default()
                }
                atom => vec![atom],
            };
            for atom in nodes {
                match (out.last_mut(), atom) {
                    (Some(Node::Lit(prev)), Node::Lit(more)) => prev.extend(more),
                    (_, atom) => out.push(atom),
                }
            }
        }
        Some(out)
    }

    fn lit(&self, c: u8) -> Node {
        Node::Lit(vec![if self.icase {
            c.to_ascii_lowercase()
        } else {
            c
        }])
    }

    fn set(&self, set: ByteSet) -> Node {
        Node::Class {
            set,
            min: 1,
            max: 1,
            greedy: true,
            follow: Follow::ANY,
        }
    }

    /// Applies a following quantifier to `atom`.
    fn quantified(&mut self, atom: Node) -> Option<Node> {
        let (min, max) = match self.peek() {
            Some(b'*') => (0, u32::MAX),
            Some(b'+') => (1, u32::MAX),
            Some(b'?') => (0, 1),
            Some(b'{') => {
                let (min, max, len) = braces(&self.p[self.i..])?;
                self.i += len - 1;
                (min, max)
            }
            _ => return Some(atom),
        };
        self.i += 1;
        let greedy = if self.peek() == Some(b'?') {
            self.i += 1;
            false
        } else {
            true
        };
        if min > max {
            return None;
        }
        match atom {
            Node::Lit(b) if b.len() == 1 => {
                let c = b[0];
                let set = if self.icase {
                    ByteSet::one(c).fold_case()
                } else {
                    ByteSet::one(c)
                };
                Some(Node::Class {
                    set,
                    min,
                    max,
                    greedy,
                    follow: Follow::ANY,
                })
            }
            Node::Class {
                set,
                min: 1,
                max: 1,
                ..
            } => Some(Node::Class {
                set,
                min,
                max,
                greedy,
                follow: Follow::ANY,
            }),
            Node::Group(mut g) if g.min == 1 && g.max == 1 => {
                (g.min, g.max, g.greedy) = (min, max, greedy);
                Some(Node::Group(g))
            }
            _ => None,
        }
    }

    fn group(&mut self) -> Option<Node> {
        self.i += 1;
        let rest = &self.p[self.i..];
        let mut name = None;
        let (look, cap, skip) = if rest.starts_with(b"?:") {
            (None, false, 2)
        } else if rest.starts_with(b"?=") {
            (Some(false), false, 2)
        } else if rest.starts_with(b"?!") {
            (Some(true), false, 2)
        } else if rest.starts_with(b"?<") && !rest.starts_with(b"?<=") && !rest.starts_with(b"?<!")
        {
            let end = rest.iter().position(|&c| c == b'>')?;
            let n = &rest[2..end];
            let ident = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'$';
            if n.is_empty() || !n.iter().all(ident) || n[0].is_ascii_digit() {
                return None;
            }
            name = Some(String::from_utf8_lossy(n).into_owned());
            (None, true, end + 1)
        } else if rest.first() == Some(&b'?') {
            return None;
        } else {
            (None, true, 0)
        };
        self.i += skip;
        let first = self.caps + 1;
        let cap = cap.then(|| {
            self.caps += 1;
            self.caps
        });
        if self.caps >= MAX_CAPS {
            return None;
        }
        if let (Some(n), Some(c)) = (name, cap) {
            if self.names.iter().any(|(k, _)| *k == n) {
                return None;
            }
            self.names.push((n, c));
        }
        let alts = self.alts()?;
        if self.peek() != Some(b')') {
            return None;
        }
        self.i += 1;
        Some(match look {
            Some(negative) => Node::Look { negative, alts },
            None => Node::Group(Box::new(Group {
                cap,
                caps: first..self.caps + 1,
                alts,
                min: 1,
                max: 1,
                greedy: true,
            })),
        })
    }

    /// An escape outside a class.
    fn escape(&mut self) -> Option<Node> {
        let e = *self.p.get(self.i + 1)?;
        self.i += 2;
        if let Some(set) = class_escape(e) {
            return Some(self.set(self.fold(set)));
        }
        Some(self.lit(escaped_char(e)?))
    }

    fn fold(&self, set: ByteSet) -> ByteSet {
        if self.icase {
            set.fold_case()
        } else {
            set
        }
    }

    fn class(&mut self) -> Option<Node> {
        self.i += 1;
        let negated = self.peek() == Some(b'^');
        if negated {
            self.i += 1;
        }
        let mut set = ByteSet::EMPTY;
        let mut first = true;
        loop {
            let c = self.peek()?;
            if c == b']' && !first {
                self.i += 1;
                break;
            }
            // `[]` and `[^]` (empty / everything) are not compiled.
            if c == b']' {
                return None;
            }
            first = false;
            let lo = self.class_atom()?;
            if self.peek() == Some(b'-') && self.p.get(self.i + 1).is_some_and(|&n| n != b']') {
                self.i += 1;
                let hi = self.class_atom()?;
                match (lo, hi) {
                    (ClassAtom::Char(a), ClassAtom::Char(b)) if a <= b => {
                        set = set.union(ByteSet::range(a, b));
                    }
                    _ => return None,
                }
            } else {
                set = set.union(match lo {
                    ClassAtom::Char(a) => ByteSet::one(a),
                    ClassAtom::Set(s) => s,
                });
            }
        }
        let set = self.fold(set);
        Some(self.set(if negated { set.invert() } else { set }))
    }

    fn class_atom(&mut self) -> Option<ClassAtom> {
        let c = self.peek()?;
        self.i += 1;
        if c != b'\\' {
            return (0x20..0x7f).contains(&c).then_some(ClassAtom::Char(c));
        }
        let e = self.peek()?;
        self.i += 1;
        if let Some(set) = class_escape(e) {
            return Some(ClassAtom::Set(set));
        }
        // `\b` in a class is backspace; `\-` a hyphen.
        match e {
            b'b' => Some(ClassAtom::Char(8)),
            e => escaped_char(e).map(ClassAtom::Char),
        }
    }
}

enum ClassAtom {
    Char(u8),
    Set(ByteSet),
}

/// `\d \D \w \W \s \S` on ASCII.
fn class_escape(e: u8) -> Option<ByteSet> {
    Some(match e {
        b'd' => digit(),
        b'D' => digit().invert(),
        b'w' => word(),
        b'W' => word().invert(),
        b's' => space(),
        b'S' => space().invert(),
        _ => return None,
    })
}

/// The character of an identity or control escape; `None` for escapes with other meanings
/// (back-references, `\b`, `\u…`, `\x…`, `\c…`, `\0`, `\k<…>`).
fn escaped_char(e: u8) -> Option<u8> {
    match e {
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b't' => Some(b'\t'),
        b'f' => Some(0x0c),
        b'v' => Some(0x0b),
        e if e.is_ascii_punctuation() => Some(e),
        _ => None,
    }
}

/// `{n}`, `{n,}`, `{n,m}` at the start of `s`: `(min, max, length)`.
fn braces(s: &[u8]) -> Option<(u32, u32, usize)> {
    let end = s.iter().position(|&c| c == b'}')?;
    let body = std::str::from_utf8(&s[1..end]).ok()?;
    let num = |t: &str| -> Option<u32> {
        (!t.is_empty() && t.bytes().all(|c| c.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    let (min, max) = match body.split_once(',') {
        None => {
            let n = num(body)?;
            (n, n)
        }
        Some((a, "")) => (num(a)?, u32::MAX),
        Some((a, b)) => (num(a)?, num(b)?),
    };
    Some((min, max, end + 1))
}

/// What to do once the current sequence has matched.
enum Cont<'a> {
    /// The whole pattern (or a lookahead body) matched.
    Accept,
    /// Match these nodes next, then `next`.
    Seq(&'a [Node], &'a Cont<'a>),
    /// Iteration `count` of `g`, begun at `start`, has matched its body.
    GroupEnd {
        g: &'a Group,
        count: u32,
        start: usize,
        next: &'a Cont<'a>,
    },
}

type Step = Result<Option<usize>, Abort>;

/// A text position as stored in the capture array (texts are at most [`MAX_TEXT`] long).
fn pos16(p: usize) -> u16 {
    u16::try_from(p).unwrap_or(UNSET)
}

struct Matcher<'t> {
    text: &'t [u8],
    icase: bool,
    caps: [u16; 2 * MAX_CAPS],
    steps: u32,
    depth: u32,
}

impl Matcher<'_> {
    fn tick(&mut self) -> Result<(), Abort> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(Abort);
        }
        Ok(())
    }

    fn lit_at(&self, pos: usize, lit: &[u8]) -> bool {
        match self.text.get(pos..pos + lit.len()) {
            Some(t) if self.icase => t.eq_ignore_ascii_case(lit),
            Some(t) => t == lit,
            None => false,
        }
    }

    fn seq(&mut self, nodes: &[Node], mut pos: usize, k: &Cont) -> Step {
        self.tick()?;
        for (i, node) in nodes.iter().enumerate() {
            match node {
                Node::Lit(b) => {
                    if !self.lit_at(pos, b) {
                        return Ok(None);
                    }
                    pos += b.len();
                }
                Node::Start => {
                    if pos != 0 {
                        return Ok(None);
                    }
                }
                Node::End => {
                    if pos != self.text.len() {
                        return Ok(None);
                    }
                }
                Node::Class {
                    set,
                    min,
                    max,
                    greedy,
                    follow,
                } => {
                    let (min, max) = (*min as usize, *max as usize);
                    let avail = self.text[pos..]
                        .iter()
                        .take(max)
                        .take_while(|&&b| set.contains(b))
                        .count();
                    if avail < min {
                        return Ok(None);
                    }
                    if min == max {
                        pos += min;
                        continue;
                    }
                    return self.choose(&nodes[i + 1..], pos, (min, avail), *greedy, *follow, k);
                }
                Node::Group(g) => {
                    let next = Cont::Seq(&nodes[i + 1..], k);
                    return self.group(g, 0, pos, &next);
                }
                Node::Look { negative, alts } => {
                    let saved = self.caps;
                    let found = self.first_alt(alts, pos, &Cont::Accept)?.is_some();
                    if *negative || !found {
                        self.caps = saved;
                    }
                    if found == *negative {
                        return Ok(None);
                    }
                }
            }
        }
        self.cont(k, pos)
    }

    /// Tries `rest` after `n` repetitions of a class, for `n` in `min..=avail` in the
    /// quantifier's order of preference.
    fn choose(
        &mut self,
        rest: &[Node],
        pos: usize,
        (min, avail): (usize, usize),
        greedy: bool,
        follow: Follow,
        k: &Cont,
    ) -> Step {
        self.enter()?;
        let mut found = None;
        let mut n = if greedy { avail } else { min };
        loop {
            if follow.allows(self.text, pos + n) {
                if let Some(e) = self.seq(rest, pos + n, k)? {
                    found = Some(e);
                    break;
                }
            }
            if greedy {
                if n == min {
                    break;
                }
                n -= 1;
            } else {
                if n == avail {
                    break;
                }
                n += 1;
            }
        }
        self.depth -= 1;
        Ok(found)
    }

    fn enter(&mut self) -> Result<(), Abort> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Abort);
        }
        Ok(())
    }

    /// The first alternative that matches. Captures set by a failed alternative are undone
    /// before the next one; after the last, undoing is the caller's (every caller restores its
    /// own state on failure), which spares the copy for the usual single alternative.
    fn first_alt(&mut self, alts: &[Vec<Node>], pos: usize, k: &Cont) -> Step {
        if let [only] = alts {
            return self.seq(only, pos, k);
        }
        let saved = self.caps;
        for alt in alts {
            if let Some(e) = self.seq(alt, pos, k)? {
                return Ok(Some(e));
            }
            self.caps = saved;
        }
        Ok(None)
    }

    fn cont(&mut self, k: &Cont, pos: usize) -> Step {
        match k {
            Cont::Accept => Ok(Some(pos)),
            Cont::Seq(nodes, next) => self.seq(nodes, pos, next),
            Cont::GroupEnd {
                g,
                count,
                start,
                next,
            } => {
                // An iteration past the minimum that matched nothing fails (RepeatMatcher).
                if *count > g.min && pos == *start {
                    return Ok(None);
                }
                if let Some(c) = g.cap {
                    self.caps[2 * c] = pos16(*start);
                    self.caps[2 * c + 1] = pos16(pos);
                }
                self.group(g, *count, pos, next)
            }
        }
    }

    /// Continues a group after `count` iterations at `pos`.
    fn group(&mut self, g: &Group, count: u32, pos: usize, next: &Cont) -> Step {
        self.enter()?;
        let r = if count < g.min {
            self.iterate(g, count, pos, next)
        } else if count >= g.max {
            self.cont(next, pos)
        } else if g.greedy {
            match self.iterate(g, count, pos, next)? {
                Some(e) => Ok(Some(e)),
                None => self.cont(next, pos),
            }
        } else {
            match self.cont(next, pos)? {
                Some(e) => Ok(Some(e)),
                None => self.iterate(g, count, pos, next),
            }
        };
        self.depth -= 1;
        r
    }

    fn iterate(&mut self, g: &Group, count: u32, pos: usize, next: &Cont) -> Step {
        let end = Cont::GroupEnd {
            g,
            count: count + 1,
            start: pos,
            next,
        };
        if g.caps.is_empty() {
            // Nothing inside sets a capture: nothing of this iteration's own to undo (what the
            // continuation sets is undone by the iterations that set it).
            return self.first_alt(&g.alts, pos, &end);
        }
        let saved = self.caps;
        for c in g.caps.clone() {
            self.caps[2 * c] = UNSET;
            self.caps[2 * c + 1] = UNSET;
        }
        let r = self.first_alt(&g.alts, pos, &end)?;
        if r.is_none() {
            self.caps = saved;
        }
        Ok(r)
    }
}

impl Program {
    /// Compiles `source` (JavaScript syntax, `i` flag or none); `None` when the pattern is outside
    /// the subset this matcher implements.
    pub fn compile(source: &str, icase: bool) -> Option<Self> {
        if !source.is_ascii() {
            return None;
        }
        let mut p = Parser {
            p: source.as_bytes(),
            i: 0,
            icase,
            caps: 0,
            names: Vec::new(),
        };
        let mut alts = p.alts()?;
        if p.i != p.p.len() {
            return None;
        }
        for alt in &mut alts {
            annotate(alt, Follow::ANY, icase);
        }
        let anchored = alts.iter().all(|a| matches!(a.first(), Some(Node::Start)));
        let starts = alts.iter().fold(Follow::NONE, |acc, alt| {
            acc.union(first(alt, Follow::ANY, icase))
        });
        Some(Self {
            alts,
            groups: p.caps + 1,
            icase,
            anchored,
            starts,
            names: p.names,
        })
    }

    /// Named groups in pattern order, with their numbers.
    pub fn names(&self) -> &[(String, usize)] {
        &self.names
    }

    /// Runs the match on ASCII `text`: the capture array, start and end of the first match
    /// (`None` when the text is long or not ASCII: the caller's engines handle it).
    fn exec(&self, text: &str) -> Option<Result<Option<Found>, Abort>> {
        if text.len() > MAX_TEXT || !text.is_ascii() {
            return None;
        }
        let mut m = Matcher {
            text: text.as_bytes(),
            icase: self.icase,
            caps: [UNSET; 2 * MAX_CAPS],
            steps: 0,
            depth: 0,
        };
        let last = if self.anchored { 0 } else { text.len() };
        for start in 0..=last {
            if !self.starts.allows(m.text, start) {
                continue;
            }
            m.caps = [UNSET; 2 * MAX_CAPS];
            match m.first_alt(&self.alts, start, &Cont::Accept) {
                Err(a) => return Some(Err(a)),
                Ok(Some(end)) => return Some(Ok(Some((m.caps, start, end)))),
                Ok(None) => {}
            }
        }
        Some(Ok(None))
    }

    /// `test` on ASCII `text` (`None`: not decided here, as for [`Program::captures`]).
    pub fn is_match(&self, text: &str) -> Option<Result<bool, Abort>> {
        Some(self.exec(text)?.map(|found| found.is_some()))
    }

    /// `exec` on ASCII `text` (`None` when `text` is long or not ASCII: the caller's engines
    /// handle it).
    pub fn captures(&self, text: &str) -> Option<Result<Option<Slots>, Abort>> {
        Some(self.exec(text)?.map(|found| {
            found.map(|(caps, start, end)| {
                let mut slots = Vec::with_capacity(self.groups);
                slots.push(Some((start, end)));
                for g in 1..self.groups {
                    let (s, e) = (caps[2 * g], caps[2 * g + 1]);
                    slots.push((s != UNSET && e != UNSET).then_some((s.into(), e.into())));
                }
                slots
            })
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn compiles_what_next_emits_and_refuses_the_rest() {
        for p in [
            r"^\/base(?:\/(en|fr|de\-DE))(?:\/((?:[^\/]+?)(?:\/(?:[^\/]+?))*))?(?:\/)?$",
            r"^(?:\/((?!\.well-known(?:\/.*)?)(?:[^/]+\/)*[^/]+\.\w+))\/$",
            r"^/base[/]?(?<nextLocale>[^/]{1,})/posts/(?<nxtPid>[^/]+?)(?:/)?$",
            r"/_next/static/(?:[^/]+/pages|pages|chunks)/.+",
            r"(?<tag>[a-z]+)",
        ] {
            assert!(Program::compile(p, true).is_some(), "{p}");
        }
        for p in [
            r"(a)\1", r"(?<=a)b", r"\bx", r"a{,3}", r"[]", r"\u0041", "é", r"x]", r"(?i)a",
        ] {
            assert!(Program::compile(p, false).is_none(), "{p}");
        }
    }

    #[test]
    fn javascript_repetition_rules() {
        // An empty iteration past the minimum is rejected: V8 gives `aa` for `(?:a*?)*` on `aa`.
        let p = Program::compile(r"^(?:a*?)*", false).unwrap();
        assert_eq!(p.captures("aa").unwrap().unwrap().unwrap()[0], Some((0, 2)));
        // Captures inside a repeated group are reset per iteration: `/((a)|b)+/.exec('ab')`
        // leaves group 2 undefined.
        let p = Program::compile(r"((a)|b)+", false).unwrap();
        let s = p.captures("ab").unwrap().unwrap().unwrap();
        assert_eq!(s, vec![Some((0, 2)), Some((1, 2)), None]);
    }

    /// The deepest match it attempts fits a quarter of Node's main-thread stack (~1 MB, where
    /// the addon runs), even unoptimized (release builds need a quarter of that): recursion is
    /// bounded by [`MAX_DEPTH`] choice points.
    #[test]
    fn deep_matches_stay_within_a_small_stack() {
        let run = || {
            let p =
                Program::compile(r"^(?:\/((?:[^\/]+?)(?:\/(?:[^\/]+?))*))?(?:\/)?$", true).unwrap();
            let deep = "/a".repeat(2000);
            let r = p.captures(&deep).unwrap();
            let nested = Program::compile(r"^((((((a|b)+?)+?)+?)+?)+?)+?$", false).unwrap();
            let _ = nested.captures(&"ab".repeat(200));
            r
        };
        let r = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(run)
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(r, Err(Abort));
    }

    #[test]
    fn gives_up_instead_of_stalling() {
        let p = Program::compile(r"^(a+)+$", false).unwrap();
        let evil = format!("{}b", "a".repeat(40));
        assert_eq!(p.captures(&evil).unwrap(), Err(Abort));
    }
}
