//! Route regexes of the shapes path-to-regexp emits, matched token by token.
//!
//! Nearly every route regex of a Next build is `^…$` over a few kinds of pieces: literal text
//! (`\/blog`), an optional slash (`(?:\/)?`, `[/]?`), a segment (`([^\/]+?)`,
//! `(?<nxtPslug>[^/]+?)`), a choice of literals (`(en|fr|de\-DE)`), a rest (`.+?`) and the
//! catch-all `(?:\/((?:[^\/]+?)(?:\/(?:[^\/]+?))*))?`; the trailing-slash redirects add a
//! negative lookahead of literals (`(?!\.well-known(?:\/.*)?)`), `(?:[^/]+\/)*`, `[^/\.]+`,
//! `\w+` and a capture group around several pieces. A general engine pays for its generality
//! on each of them (a regex search costs ~50 ns before it reads a byte, captures several times
//! that, ~500 ns for the catch-all); here a segment is a scan to the next `/`.
//!
//! [`Segments::compile`] accepts only patterns made of those pieces, and matching tries the
//! choices of each piece in the order ECMAScript's backtracking tries them (greedy: longest
//! first; lazy: shortest first; alternatives left to right), so a match and its captures are
//! V8's. A match that would take more than [`MAX_STEPS`] choices gives up, and patterns with a
//! `.` (a run, or in a lookahead) are not matched on non-ASCII texts ([`Segments::decides`]):
//! the caller then asks the other engines.

/// Choices one match may try before giving up.
const MAX_STEPS: u32 = 4096;

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// Text matched as it is (lower-cased when the pattern ignores case).
    Lit(Vec<u8>),
    /// `/` if there is one (greedy `?`).
    OptSlash,
    /// `min` or more bytes of a [`Class`] (`[^\/]+?`, `[^/]{1,}`, `.+?`, `.*`, `\w+`…).
    Run {
        cap: Option<usize>,
        lazy: bool,
        class: Class,
        min: usize,
        /// Only its longest length can match: it stops at `/` and what follows it can only
        /// start at a `/` or the end (a shorter run leaves another byte next). Set by
        /// [`Segments::compile`].
        longest_only: bool,
        /// The bytes what follows the run can start with: lengths that leave another byte
        /// next are not tried. Set by [`Segments::compile`].
        follow: Follow,
    },
    /// One of some literal texts, tried in order.
    Choice {
        cap: Option<usize>,
        alts: Vec<Vec<u8>>,
    },
    /// `/seg(/seg)*` of non-empty segments, capturing what follows the first `/`; absent allowed
    /// when `optional`. Only compiled where what follows it starts with `/` or ends the text,
    /// so its segments always run to a `/` or the end (see [`Segments::compile`]).
    CatchAll { cap: usize, optional: bool },
    /// `(?:[^/]+\/)*`: non-empty segments each followed by `/`, as many as there are first.
    SegsStar,
    /// `(?!a|b…)`: none of these texts starts here (`None` stands for `.`). A body's trailing
    /// `(?:\/.*)?` is left out: it can match nothing, so it never decides.
    NotAhead(Vec<Vec<Option<u8>>>),
    /// Alternatives of a capturing group tried in order (`(\.rsc|\.segments/.+\.segment\.rsc|)`
    /// of Next's dynamic routes), each followed by the rest of the pattern: the last token of
    /// its list (see [`expand_alternatives`]).
    Alt(Vec<Vec<Token>>),
    /// Where capture group `n`, made of the tokens up to its [`Token::Close`], starts.
    Open(usize),
    /// Where capture group `n` ends.
    Close(usize),
    /// `$`.
    End,
}

/// The bytes a [`Token::Run`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// `[^/]`.
    NotSlash,
    /// `.`: every byte but a line terminator (only ASCII texts are decided with it).
    Any,
    /// `[^/\.]`.
    NotSlashOrDot,
    /// `\w`.
    Word,
}

impl Class {
    fn takes(self, c: u8) -> bool {
        match self {
            Class::NotSlash => c != b'/',
            Class::Any => c != b'\n' && c != b'\r',
            Class::NotSlashOrDot => c != b'/' && c != b'.',
            Class::Word => c.is_ascii_alphanumeric() || c == b'_',
        }
    }
}

/// The bytes (folded as literals are) a match of some tokens can start with, and whether it can
/// be empty at the end of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Follow {
    bytes: [u64; 4],
    end: bool,
}

impl Follow {
    /// Anything may follow.
    const ANY: Self = Self {
        bytes: [u64::MAX; 4],
        end: true,
    };
    const NONE: Self = Self {
        bytes: [0; 4],
        end: false,
    };

    fn byte(b: u8) -> Self {
        let mut f = Self::NONE;
        f.bytes[usize::from(b >> 6)] |= 1 << (b & 63);
        f
    }

    fn union(self, o: Self) -> Self {
        let mut f = self;
        for (a, b) in f.bytes.iter_mut().zip(o.bytes) {
            *a |= b;
        }
        f.end |= o.end;
        f
    }

    /// Whether what follows can only start with `/` or be the end of the text (and can be
    /// something).
    fn slash_or_end_only(&self) -> bool {
        let slash = Self::byte(b'/');
        let only_slash = self.bytes.iter().zip(slash.bytes).all(|(a, s)| a & !s == 0);
        only_slash && (self.end || *self != Self::NONE)
    }

    /// Whether a match can start at `at` of `text` (`icase`: bytes compared folded).
    fn admits(&self, text: &[u8], at: usize, icase: bool) -> bool {
        match text.get(at) {
            None => self.end,
            Some(&b) => {
                let b = if icase { b.to_ascii_lowercase() } else { b };
                self.bytes[usize::from(b >> 6)] & (1 << (b & 63)) != 0
            }
        }
    }

    /// What `tokens` can start with (after a run: the run's own bytes are not known here).
    fn of(tokens: &[Token]) -> Self {
        let Some((t, rest)) = tokens.split_first() else {
            return Self::NONE;
        };
        match t {
            Token::End => Self {
                bytes: [0; 4],
                end: true,
            },
            Token::Lit(l) => l.first().map_or_else(|| Self::of(rest), |&b| Self::byte(b)),
            Token::OptSlash => Self::byte(b'/').union(Self::of(rest)),
            Token::NotAhead(_) | Token::Open(_) | Token::Close(_) => Self::of(rest),
            Token::CatchAll { optional, .. } => {
                let slash = Self::byte(b'/');
                if *optional {
                    slash.union(Self::of(rest))
                } else {
                    slash
                }
            }
            Token::Choice { alts, .. } => alts.iter().fold(Self::NONE, |f, a| {
                f.union(a.first().map_or_else(|| Self::of(rest), |&b| Self::byte(b)))
            }),
            Token::Alt(alts) => alts.iter().fold(Self::NONE, |f, a| f.union(Self::of(a))),
            Token::Run { .. } | Token::SegsStar => Self::ANY,
        }
    }
}

/// Capture groups made of several tokens ([`Token::Open`]) a pattern may have.
const MAX_OPEN_GROUPS: usize = 16;

/// A pattern compiled to [`Token`]s.
#[derive(Debug, Clone)]
pub struct Segments {
    tokens: Vec<Token>,
    icase: bool,
    /// Capture groups, group 0 (the match) included.
    groups: usize,
    /// Named groups in pattern order, with their numbers.
    names: Vec<(String, usize)>,
    /// A `.` is among the tokens, as a run or in a lookahead (see [`Segments::decides`]).
    any_dot: bool,
    /// The literal every match starts with (after its optional slash).
    prefix: Edge,
    /// The literal every match ends with (before its optional slash).
    suffix: Edge,
}

/// A literal a match starts or ends with, maybe with an optional `/` outside it.
#[derive(Debug, Clone, Default)]
struct Edge {
    /// Folded as tokens are; empty when the pattern has no such literal.
    lit: Vec<u8>,
    /// `(?:\/)?` lies between the literal and the text's edge.
    opt_slash: bool,
}

impl Edge {
    fn new(lit: &[u8], opt_slash: bool) -> Self {
        Self {
            lit: lit.to_vec(),
            opt_slash,
        }
    }
}

/// The source forms of an unbounded run: its text, whether it is lazy, its class, its minimum.
const RUNS: &[(&str, bool, Class, usize)] = &[
    (r"[^\/]+?", true, Class::NotSlash, 1),
    (r"[^/]+?", true, Class::NotSlash, 1),
    (r"[^\/]+", false, Class::NotSlash, 1),
    (r"[^/]+", false, Class::NotSlash, 1),
    (r"[^\/]{1,}", false, Class::NotSlash, 1),
    (r"[^/]{1,}", false, Class::NotSlash, 1),
    (r".+?", true, Class::Any, 1),
    (r".+", false, Class::Any, 1),
    (r".*?", true, Class::Any, 0),
    (r".*", false, Class::Any, 0),
    (r"[^/\.]+", false, Class::NotSlashOrDot, 1),
    (r"[^\/\.]+", false, Class::NotSlashOrDot, 1),
    (r"\w+", false, Class::Word, 1),
];

/// The source forms of [`Token::SegsStar`].
const SEGS_STAR: &[&str] = &[r"(?:[^/]+\/)*", r"(?:[^\/]+\/)*"];

/// The source forms of a lookahead body's trailing optional rest, which never decides.
const OPT_REST: &[&str] = &[r"(?:\/.*)?", "(?:/.*)?"];

/// The source forms of an optional slash.
const OPT_SLASHES: &[&str] = &[r"(?:\/)?", "(?:/)?", "[/]?", r"[\/]?", r"\/?", "/?"];

/// path-to-regexp's catch-all body, without its trailing `?`.
const CATCH_ALL: &str = r"(?:\/((?:[^\/]+?)(?:\/(?:[^\/]+?))*))";

/// Punctuation that stands for itself unescaped.
fn plain_punct(c: u8) -> bool {
    matches!(
        c,
        b'/' | b'-'
            | b'_'
            | b'~'
            | b'%'
            | b'='
            | b'@'
            | b'!'
            | b','
            | b';'
            | b':'
            | b'\''
            | b'&'
            | b'#'
            | b'<'
            | b'>'
            | b'"'
            | b'`'
            | b' '
    )
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
    icase: bool,
    caps: usize,
    names: Vec<(String, usize)>,
    tokens: Vec<Token>,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.s[self.i..]
    }

    fn eat(&mut self, form: &str) -> bool {
        let ok = self.rest().starts_with(form);
        if ok {
            self.i += form.len();
        }
        ok
    }

    /// A quantifier follows: the group or atom just read is not a plain concatenation.
    fn quantified(&self) -> bool {
        matches!(self.rest().bytes().next(), Some(b'?' | b'*' | b'+' | b'{'))
    }

    /// A literal byte as tokens hold it (lower-cased when the pattern ignores case).
    fn fold(&self, c: u8) -> u8 {
        if self.icase {
            c.to_ascii_lowercase()
        } else {
            c
        }
    }

    fn lit(&mut self, c: u8) {
        let c = self.fold(c);
        match self.tokens.last_mut() {
            Some(Token::Lit(l)) => l.push(c),
            _ => self.tokens.push(Token::Lit(vec![c])),
        }
    }

    /// A run form at the cursor.
    fn run(&mut self) -> Option<(bool, Class, usize)> {
        let (form, lazy, class, min) = RUNS.iter().find(|(f, ..)| self.rest().starts_with(f))?;
        self.i += form.len();
        Some((*lazy, *class, *min))
    }

    /// The body of `(?!…)` up to its `)`: alternatives of literal characters and `.`.
    fn not_ahead(&mut self) -> Option<Token> {
        let mut alts = vec![Vec::new()];
        loop {
            if self.eat(")") {
                return (!self.quantified()).then_some(Token::NotAhead(alts));
            }
            if self.eat("|") {
                alts.push(Vec::new());
                continue;
            }
            if OPT_REST.iter().any(|f| self.eat(f)) {
                // Ignorable only where it ends its alternative.
                if !matches!(self.rest().bytes().next(), Some(b')' | b'|')) {
                    return None;
                }
                continue;
            }
            if self.eat(".") {
                alts.last_mut()?.push(None);
                continue;
            }
            let c = self.literal_char()?;
            let c = self.fold(c);
            alts.last_mut()?.push(Some(c));
        }
    }

    /// A capturing group `cap` at the cursor (after its opening): one token when it is a run
    /// or literal alternatives, else its pieces between [`Token::Open`] and [`Token::Close`].
    fn group(&mut self, cap: usize) -> Option<()> {
        let at = self.i;
        if let Some(t) = self.group_body(cap) {
            if self.quantified() {
                return None;
            }
            self.tokens.push(t);
            return Some(());
        }
        self.i = at;
        if cap >= MAX_OPEN_GROUPS {
            return None;
        }
        // Its alternatives (usually one), each between `Open` and `Close`.
        let outer = std::mem::take(&mut self.tokens);
        let mut alts = Vec::new();
        loop {
            self.tokens.push(Token::Open(cap));
            let more = self.seq(true)?;
            self.tokens.push(Token::Close(cap));
            alts.push(std::mem::take(&mut self.tokens));
            if !more {
                break;
            }
        }
        self.tokens = outer;
        if alts.len() == 1 {
            self.tokens.extend(alts.into_iter().flatten());
        } else {
            self.tokens.push(Token::Alt(alts));
        }
        Some(())
    }

    /// One literal character (escaped or plain) at the cursor.
    fn literal_char(&mut self) -> Option<u8> {
        let b = self.s.as_bytes();
        let c = *b.get(self.i)?;
        if c == b'\\' {
            let e = *b.get(self.i + 1)?;
            // `\d`, `\w`, `\b`, `\u…`: classes, assertions and escapes, not the character.
            if !e.is_ascii_punctuation() {
                return None;
            }
            self.i += 2;
            return Some(e);
        }
        if c.is_ascii_alphanumeric() || plain_punct(c) {
            self.i += 1;
            return Some(c);
        }
        None
    }

    /// The body of a capturing group up to its `)`: a run, or literal alternatives.
    fn group_body(&mut self, cap: usize) -> Option<Token> {
        if let Some((lazy, class, min)) = self.run() {
            return self.eat(")").then_some(Token::Run {
                cap: Some(cap),
                lazy,
                class,
                min,
                longest_only: false,
                follow: Follow::ANY,
            });
        }
        let mut alts = vec![Vec::new()];
        loop {
            if self.eat(")") {
                break;
            }
            if self.eat("|") {
                alts.push(Vec::new());
                continue;
            }
            let c = self.literal_char()?;
            let c = self.fold(c);
            alts.last_mut()?.push(c);
        }
        Some(Token::Choice {
            cap: Some(cap),
            alts,
        })
    }

    /// Pieces up to `)` or `|` (consumed) or the final `$`: `true` when a `|` ended them (another
    /// alternative of the group follows).
    fn seq(&mut self, in_group: bool) -> Option<bool> {
        loop {
            if in_group && self.eat(")") {
                return (!self.quantified()).then_some(false);
            }
            if in_group && self.eat("|") {
                return Some(true);
            }
            if !in_group && self.rest() == "$" {
                self.i += 1;
                self.tokens.push(Token::End);
                return Some(false);
            }
            if self.eat(CATCH_ALL) {
                self.caps += 1;
                let optional = self.eat("?");
                if self.quantified() {
                    return None;
                }
                self.tokens.push(Token::CatchAll {
                    cap: self.caps,
                    optional,
                });
                continue;
            }
            if let Some(form) = OPT_SLASHES.iter().find(|f| self.rest().starts_with(**f)) {
                self.i += form.len();
                if self.quantified() {
                    return None;
                }
                self.tokens.push(Token::OptSlash);
                continue;
            }
            if let Some((lazy, class, min)) = self.run() {
                if self.quantified() {
                    return None;
                }
                self.tokens.push(Token::Run {
                    cap: None,
                    lazy,
                    class,
                    min,
                    longest_only: false,
                    follow: Follow::ANY,
                });
                continue;
            }
            if SEGS_STAR.iter().any(|f| self.eat(f)) {
                if self.quantified() {
                    return None;
                }
                self.tokens.push(Token::SegsStar);
                continue;
            }
            if self.eat("(?!") {
                let t = self.not_ahead()?;
                self.tokens.push(t);
                continue;
            }
            if self.eat("(?:") {
                // (Alternatives only in capturing groups.)
                if self.seq(true)? {
                    return None;
                }
                continue;
            }
            if self.eat("(?<") {
                let end = self.rest().find('>')?;
                let name = self.rest()[..end].to_string();
                if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    return None;
                }
                self.i += end + 1;
                self.caps += 1;
                self.names.push((name, self.caps));
                self.group(self.caps)?;
                continue;
            }
            if self.rest().starts_with("(?") {
                return None;
            }
            if self.eat("(") {
                self.caps += 1;
                self.group(self.caps)?;
                continue;
            }
            let c = self.literal_char()?;
            if self.quantified() {
                return None;
            }
            self.lit(c);
        }
    }
}

/// A capture's `(start, end)` in the text; `None` when its group took no part in the match.
pub type Slot = Option<(usize, usize)>;

/// The match gave up after [`MAX_STEPS`] choices: ask another engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Abort;

struct Matcher<'a> {
    text: &'a [u8],
    icase: bool,
    slots: &'a mut [Slot],
    steps: u32,
    /// Where each open [`Token::Open`] group started.
    opens: [usize; MAX_OPEN_GROUPS],
}

/// Whether `text` (of `lit`'s length) is the literal `lit`, held folded as tokens hold it.
fn lit_eq(text: &[u8], lit: &[u8], icase: bool) -> bool {
    // Byte loops: literals are a few bytes, shorter than a `memcmp` call costs.
    text.len() == lit.len()
        && if icase {
            text.iter()
                .zip(lit)
                .all(|(a, b)| a.to_ascii_lowercase() == *b)
        } else {
            text.iter().zip(lit).all(|(a, b)| a == b)
        }
}

impl Matcher<'_> {
    fn lit_at(&self, pos: usize, lit: &[u8]) -> bool {
        self.text
            .get(pos..pos + lit.len())
            .is_some_and(|t| lit_eq(t, lit, self.icase))
    }

    fn step(&mut self) -> Result<(), Abort> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(Abort);
        }
        Ok(())
    }

    /// Records a capture (nothing when matching without captures: `slots` is empty).
    fn set(&mut self, cap: Option<usize>, v: Slot) {
        if let Some(slot) = cap.and_then(|c| self.slots.get_mut(c)) {
            *slot = v;
        }
    }

    /// Whether `tokens` match `text[pos..]` to its end, setting the captures of the match.
    fn go(&mut self, tokens: &[Token], pos: usize) -> Result<bool, Abort> {
        let Some((t, rest)) = tokens.split_first() else {
            return Ok(false);
        };
        self.step()?;
        match t {
            Token::End => Ok(pos == self.text.len()),
            Token::Lit(l) => Ok(self.lit_at(pos, l) && self.go(rest, pos + l.len())?),
            Token::OptSlash => {
                if self.text.get(pos) == Some(&b'/') && self.go(rest, pos + 1)? {
                    return Ok(true);
                }
                self.go(rest, pos)
            }
            &Token::Run {
                cap,
                lazy,
                class,
                min,
                longest_only,
                ref follow,
            } => {
                let avail = self.text[pos..]
                    .iter()
                    .take_while(|&&c| class.takes(c))
                    .count();
                if avail < min {
                    return Ok(false);
                }
                let try_len = |m: &mut Self, n: usize| -> Result<bool, Abort> {
                    // A run ends between characters (a byte inside one is no code unit).
                    if m.text.get(pos + n).is_some_and(|&b| b & 0xC0 == 0x80)
                        || !follow.admits(m.text, pos + n, m.icase)
                    {
                        return Ok(false);
                    }
                    m.set(cap, Some((pos, pos + n)));
                    m.go(rest, pos + n)
                };
                if longest_only {
                    // `avail` ends at a `/` or the end: a character boundary.
                    self.set(cap, Some((pos, pos + avail)));
                    if self.go(rest, pos + avail)? {
                        return Ok(true);
                    }
                } else if lazy {
                    for n in min..=avail {
                        if try_len(self, n)? {
                            return Ok(true);
                        }
                    }
                } else {
                    for n in (min..=avail).rev() {
                        if try_len(self, n)? {
                            return Ok(true);
                        }
                    }
                }
                self.set(cap, None);
                Ok(false)
            }
            Token::Choice { cap, alts } => {
                for a in alts {
                    if self.lit_at(pos, a) {
                        self.set(*cap, Some((pos, pos + a.len())));
                        if self.go(rest, pos + a.len())? {
                            return Ok(true);
                        }
                    }
                }
                self.set(*cap, None);
                Ok(false)
            }
            Token::SegsStar => {
                // The greedy `*` tries the most repetitions first, then one fewer, down to none.
                // (A repetition is one way only: its `[^/]+` must run to the `/`.) The ends are
                // found again walking back from the last, `/` by `/`, rather than listed: a path
                // of many segments (a hostile one) needs no list and no other engine.
                let mut last = pos;
                loop {
                    let seg = self.text[last..].iter().take_while(|&&c| c != b'/').count();
                    if seg == 0 || self.text.get(last + seg) != Some(&b'/') {
                        break;
                    }
                    last += seg + 1;
                }
                let mut end = last;
                loop {
                    if self.go(rest, end)? {
                        return Ok(true);
                    }
                    if end == pos {
                        return Ok(false);
                    }
                    // The repetition before: just after the `/` that ended the one before it.
                    end = self.text[pos..end - 1]
                        .iter()
                        .rposition(|&c| c == b'/')
                        .map_or(pos, |i| pos + i + 1);
                }
            }
            Token::NotAhead(alts) => {
                let starts_here = |alt: &[Option<u8>]| {
                    alt.iter()
                        .enumerate()
                        .all(|(i, e)| match (self.text.get(pos + i), e) {
                            (None, _) => false,
                            (Some(&c), None) => Class::Any.takes(c),
                            (Some(&c), Some(b)) if self.icase => c.to_ascii_lowercase() == *b,
                            (Some(&c), Some(b)) => c == *b,
                        })
                };
                if alts.iter().any(|a| starts_here(a)) {
                    return Ok(false);
                }
                self.go(rest, pos)
            }
            Token::Alt(alts) => {
                // (`rest` is empty: each alternative ends with the rest of the pattern.)
                for a in alts {
                    if self.go(a, pos)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            &Token::Open(cap) => {
                let before = self.opens[cap];
                self.opens[cap] = pos;
                if self.go(rest, pos)? {
                    return Ok(true);
                }
                self.opens[cap] = before;
                Ok(false)
            }
            &Token::Close(cap) => {
                let before = self.slots.get(cap).copied().flatten();
                self.set(Some(cap), Some((self.opens[cap], pos)));
                if self.go(rest, pos)? {
                    return Ok(true);
                }
                self.set(Some(cap), before);
                Ok(false)
            }
            &Token::CatchAll { cap, optional } => {
                // The greedy repetition tries the longest `/seg/seg…` first, then one segment
                // fewer. (Each segment runs to a `/` or the end: what follows starts there.) The
                // ends are found again walking back from the last, `/` by `/`, rather than
                // listed: a path of many segments (a hostile one) needs no list and no other
                // engine.
                let mut last = pos;
                while self.text.get(last) == Some(&b'/') {
                    let seg = self.text[last + 1..]
                        .iter()
                        .take_while(|&&c| c != b'/')
                        .count();
                    if seg == 0 {
                        break;
                    }
                    last += 1 + seg;
                }
                let mut end = last;
                while end > pos {
                    self.set(Some(cap), Some((pos + 1, end)));
                    if self.go(rest, end)? {
                        return Ok(true);
                    }
                    // The segment before ends where this one's `/` is (segments hold none).
                    end = self.text[pos..end]
                        .iter()
                        .rposition(|&c| c == b'/')
                        .map_or(pos, |i| pos + i);
                }
                self.set(Some(cap), None);
                if optional {
                    return self.go(rest, pos);
                }
                Ok(false)
            }
        }
    }
}

/// Tokens the lists of a pattern with alternatives may hold together (each alternative carries
/// a copy of the rest of the pattern).
const MAX_EXPANDED_TOKENS: usize = 256;

/// Moves what follows the first [`Token::Alt`] of `tokens` to the end of each of its
/// alternatives (and so on within them), so that matching one alternative goes on with the rest
/// of the pattern: the matcher's continuation is the rest of its token list. `None` when the
/// lists would exceed `budget` tokens.
fn expand_alternatives(tokens: &mut Vec<Token>, budget: &mut usize) -> Option<()> {
    *budget = budget.checked_sub(tokens.len())?;
    let Some(i) = tokens.iter().position(|t| matches!(t, Token::Alt(_))) else {
        return Some(());
    };
    let rest = tokens.split_off(i + 1);
    if let Some(Token::Alt(alts)) = tokens.last_mut() {
        for a in alts {
            a.extend(rest.iter().cloned());
            expand_alternatives(a, budget)?;
        }
    }
    Some(())
}

/// Marks the runs that only their longest length can match, and refuses a catch-all that
/// something other than `/` or the end follows (see [`Token::CatchAll`]), in `tokens` and the
/// lists of their alternatives.
fn settle_runs(tokens: &mut [Token]) -> Option<()> {
    for i in 0..tokens.len() {
        let follow_after = Follow::of(&tokens[i + 1..]);
        let next_at_slash = follow_after.slash_or_end_only();
        match &mut tokens[i] {
            Token::CatchAll { .. } if !next_at_slash => return None,
            Token::Run {
                class,
                longest_only,
                follow,
                ..
            } => {
                *longest_only = *class == Class::NotSlash && next_at_slash;
                *follow = follow_after;
            }
            Token::Alt(alts) => {
                for a in alts {
                    settle_runs(a)?;
                }
            }
            _ => {}
        }
    }
    Some(())
}

/// Whether a `.` is among `tokens` (a run, or in a lookahead), alternatives included.
fn has_dot(tokens: &[Token]) -> bool {
    tokens.iter().any(|t| match t {
        Token::Run { class, .. } => *class == Class::Any,
        Token::NotAhead(alts) => alts.iter().flatten().any(Option::is_none),
        Token::Alt(alts) => alts.iter().any(|a| has_dot(a)),
        _ => false,
    })
}

impl Segments {
    /// Compiles `source` (`i` flag or none) when it is `^…$` made only of the pieces this module
    /// matches; `None` otherwise.
    pub fn compile(source: &str, icase: bool) -> Option<Self> {
        let body = source.strip_prefix('^')?;
        let mut p = Parser {
            s: body,
            i: 0,
            icase,
            caps: 0,
            names: Vec::new(),
            tokens: Vec::new(),
        };
        p.seq(false)?;
        if p.i != body.len() {
            return None;
        }
        let mut tokens = p.tokens;
        let mut budget = MAX_EXPANDED_TOKENS;
        expand_alternatives(&mut tokens, &mut budget)?;
        settle_runs(&mut tokens)?;
        // Text every match starts or ends with, maybe beside an optional slash: most texts a
        // route is asked about fail here.
        let prefix = match tokens.as_slice() {
            [Token::Lit(l), ..] => Edge::new(l, false),
            [Token::OptSlash, Token::Lit(l), ..] => Edge::new(l, true),
            _ => Edge::default(),
        };
        let suffix = match tokens.as_slice() {
            [.., Token::Lit(l), Token::End] => Edge::new(l, false),
            [.., Token::Lit(l), Token::OptSlash, Token::End] => Edge::new(l, true),
            _ => Edge::default(),
        };
        let any_dot = has_dot(&tokens);
        Some(Self {
            any_dot,
            prefix,
            suffix,
            tokens,
            icase,
            groups: p.caps + 1,
            names: p.names,
        })
    }

    /// Named groups in pattern order, with their numbers.
    pub fn names(&self) -> &[(String, usize)] {
        &self.names
    }

    /// `exec` on `text`: the capture slots of the match (group 0 included), `Ok(None)` for no
    /// match, `None` when not decided here (see [`Segments::decides`]), as
    /// `backtrack::Program::captures` answers.
    pub fn captures(&self, text: &str) -> Option<Result<Option<Vec<Slot>>, Abort>> {
        if !self.screen(text)? {
            return Some(Ok(None));
        }
        let mut slots = vec![None; self.groups];
        Some(self.run(text, &mut slots).map(|found| {
            found.then(|| {
                slots[0] = Some((0, text.len()));
                slots
            })
        }))
    }

    /// `test` on `text`, as [`Segments::captures`].
    pub fn is_match(&self, text: &str) -> Option<Result<bool, Abort>> {
        if !self.screen(text)? {
            return Some(Ok(false));
        }
        Some(self.run(text, &mut []))
    }

    /// Whether a match on `text` is decided here: ASCII texts, and texts of the Basic
    /// Multilingual Plane (one UTF-16 code unit per character) for patterns without a `.` (a
    /// run or in a lookahead: `.` stops at U+2028 and U+2029). A non-ASCII character never
    /// equals an ASCII literal (also ignoring case), and runs end between characters.
    fn decides(&self, text: &str) -> bool {
        text.is_ascii() || (!self.any_dot && !super::jsre::beyond_bmp(text))
    }

    /// `None` when not decided here, `Some(false)` when `text` lacks the pattern's first or
    /// last literal (no match), `Some(true)` when the tokens must be run.
    fn screen(&self, text: &str) -> Option<bool> {
        if !self.decides(text) {
            return None;
        }
        let eq = |a: Option<&[u8]>, lit: &[u8]| a.is_some_and(|a| lit_eq(a, lit, self.icase));
        let t = text.as_bytes();
        let (p, s) = (&self.prefix, &self.suffix);
        let starts = |t: &[u8]| eq(t.get(..p.lit.len()), &p.lit);
        let ends = |t: &[u8]| eq(t.len().checked_sub(s.lit.len()).map(|i| &t[i..]), &s.lit);
        Some(
            (starts(t) || (p.opt_slash && t.first() == Some(&b'/') && starts(&t[1..])))
                && (ends(t) || (s.opt_slash && t.last() == Some(&b'/') && ends(&t[..t.len() - 1]))),
        )
    }

    fn run(&self, text: &str, slots: &mut [Slot]) -> Result<bool, Abort> {
        let mut m = Matcher {
            text: text.as_bytes(),
            icase: self.icase,
            slots,
            steps: 0,
            opens: [0; MAX_OPEN_GROUPS],
        };
        m.go(&self.tokens, 0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    /// What Next emits for the fixtures' routes (and path-to-regexp forms around them).
    const NEXT_PATTERNS: &[&str] = &[
        r"^(?:\/((?:[^\/]+?)(?:\/(?:[^\/]+?))*))?(?:\/)?$",
        r"^\/about(?:\/)?$",
        r"^\/api(?:\/((?:[^\/]+?)(?:\/(?:[^\/]+?))*))?(?:\/)?$",
        r"^(?:\/((?:[^\/]+?)(?:\/(?:[^\/]+?))*))\/$",
        r"^\/old-blog(?:\/([^\/]+?))(?:\/)?$",
        r"^\/before-files-about(?:\/)?$",
        r"^\/header-rewrite(?:\/)?$",
        r"^\/base(?:\/(en|fr|de\-DE))(?:\/((?:[^\/]+?)(?:\/(?:[^\/]+?))*))?(?:\/)?$",
        r"^\/base(?:\/(en|fr|de\-DE))\/about(?:\/)?$",
        r"^\/base$",
        r"^\/base(?:\/(en|fr|de\-DE))\/old(?:\/([^\/]+?))(?:\/)?$",
        r"^/base/_next/data/rODJud_FXEC2KtjRk_bDK[/]?(?<nextLocale>[^/]{1,})/posts/(?<nxtPid>[^/]+?)\.json(?:/)?$",
        r"^/base[/]?(?<nextLocale>[^/]{1,})/posts/(?<nxtPid>[^/]+?)(?:/)?$",
        r"^[/]?/posts/(?<nxtPid>[^/]+?)(?:/)?$",
        r"^/_next/data/9AIdbp7KvyEa2BTMuy2SC[/]?/docs/(?<nxtPslug>[^/]+?)\.json(?:/)?$",
        r"^/docs/(?<nxtPslug>.+?)(?:/)?$",
        // App-router dynamic routes, with their RSC and segment-prefetch suffixes.
        r"^[/]?/blog/(?<nxtPslug>[^/]+?)(\.rsc|\.segments/.+\.segment\.rsc|)(?:/)?$",
        r"^[/]?/shop/(?<nxtPid>[^/]+?)/(?<nxtPpath>.+?)(\.rsc|\.segments/.+\.segment\.rsc|)(?:/)?$",
        // The trailing-slash redirects (`trailingSlash: true`).
        r"^(?:\/((?!\.well-known(?:\/.*)?)(?:[^/]+\/)*[^/]+\.\w+))\/$",
        r"^(?:\/((?!\.well-known(?:\/.*)?)(?:[^/]+\/)*[^/\.]+))$",
    ];

    #[test]
    fn compiles_what_next_emits() {
        for p in NEXT_PATTERNS {
            assert!(Segments::compile(p, true).is_some(), "{p}");
        }
        for p in [
            // Alternatives only in capturing groups.
            r"^[/]?/blog/(?<nxtPslug>[^/]+?)(?:\.rsc|\.segments/.+\.segment\.rsc|)(?:/)?$",
            r"/_next/static/(?:[^/]+/pages|pages)/.+",
            r"^\/a(?:\/b)?$",
            r"^\d+$",
            r"^(?:\/((?:[^\/]+?)(?:\/(?:[^\/]+?))*))?x$",
        ] {
            assert!(Segments::compile(p, true).is_none(), "{p}");
        }
    }

    /// `text.match(re)` through `regress`, as positions.
    fn reference(re: &regress::Regex, text: &str) -> Option<Vec<Slot>> {
        let m = re.find(text)?;
        let mut v = vec![Some((m.range().start, m.range().end))];
        v.extend(
            m.captures
                .iter()
                .map(|r| r.clone().map(|r| (r.start, r.end))),
        );
        Some(v)
    }

    fn ours(s: &Segments, text: &str) -> Option<Vec<Slot>> {
        s.captures(text)?.unwrap()
    }

    #[test]
    fn next_patterns_agree_with_regress_on_paths() {
        let paths = [
            "",
            "/",
            "//",
            "/about",
            "/ABOUT/",
            "/about//",
            "/api",
            "/api/",
            "/api/a/b",
            "/api//a",
            "/a/b/",
            "/a//b",
            "/old-blog/x",
            "/old-blog/x/y",
            "/base",
            "/base/",
            "/base/fr",
            "/base/de-de/about",
            "/base/en/old/1/",
            "/base/_next/data/rODJud_FXEC2KtjRk_bDK/en/posts/1.json",
            "/base/_next/data/rODJud_FXEC2KtjRk_bDK/en/posts/1.json.json",
            "/base/en/posts/x",
            "/baseen/posts/x",
            "//posts/1",
            "/posts/a.json/",
            "/docs/a/b/c/",
            "/docs/",
            "/_next/data/9AIdbp7KvyEa2BTMuy2SC/docs/.json",
            "/_next/data/9AIdbp7KvyEa2BTMuy2SC//docs/a.json",
            "/a.js/",
            "/a/b.c.js/",
            "/a/.js/",
            "/a/b./",
            "/.well-known/x/",
            "/.well-known",
            "/.WELL-KNOWN/a.b/",
            "/x/.well-known/a",
            "/a/b.c",
            "/a/b_c",
            "/a//b",
            "/é/ü",
            "/a/b\n",
            "/blog/x",
            "/blog/x/",
            "/blog/x.rsc",
            "/blog/x.RSC/",
            "/blog/x.rsc.rsc",
            "/blog/x.segments/_tree.segment.rsc",
            "/blog/x.segments/a/b.segment.rsc/",
            "/blog/x.segments/.segment.rsc",
            "/blog/x.segments/a.segment.rsc.segment.rsc",
            "/blog/x.segments/a.segment.rsc/b",
            "/blog/.rsc",
            "/shop/1/a/b.rsc",
            "/shop/1/a.segments/x.segment.rsc",
            "/shop/1/a.segments/x/y.segment.rsc/",
        ];
        for p in NEXT_PATTERNS {
            let re = regress::Regex::with_flags(p, "i").unwrap();
            let s = Segments::compile(p, true).unwrap();
            for t in paths {
                assert_eq!(ours(&s, t), reference(&re, t), "{p} on {t:?}");
            }
        }
    }

    #[test]
    fn paths_of_many_segments_are_decided_here() {
        // A hostile request's path of hundreds of segments: each catch-all and
        // `(?:[^/]+\/)*` walks it here (once listing their ends stopped at 32 segments, such a
        // path went to the `regex` crate's backtracker, ~43k instructions each).
        let many = |n: usize| "/a".repeat(n);
        let texts = [
            many(33),
            format!("{}/", many(40)),
            format!("{}/", many(300)),
            format!("{}//", many(300)),
            format!("{}/b.c/", many(50)),
            format!("/x/{}/", many(100)),
            format!("{}.rsc", many(200)),
        ];
        let mut decided = 0;
        for p in NEXT_PATTERNS {
            let re = regress::Regex::with_flags(p, "i").unwrap();
            let s = Segments::compile(p, true).unwrap();
            let walks = s
                .tokens
                .iter()
                .any(|t| matches!(t, Token::CatchAll { .. } | Token::SegsStar));
            for t in &texts {
                match s.captures(t) {
                    Some(Ok(found)) => {
                        assert_eq!(found, reference(&re, t), "{p} on {} bytes", t.len());
                        decided += 1;
                    }
                    other => assert!(!walks, "{p} on {} bytes: {other:?}", t.len()),
                }
            }
        }
        assert!(decided >= texts.len() * 4, "{decided}");
    }

    fn piece() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            r"\/",
            "/",
            "a",
            "B",
            r"\-",
            "-",
            r"\.",
            "json",
            "x_y",
            r"(?:\/)?",
            "[/]?",
            r"[^\/]+?",
            "[^/]+",
            "[^/]{1,}",
            ".+?",
            ".+",
            ".*",
            r"([^\/]+?)",
            "(?<n1>[^/]+?)",
            "(?<n2>.+)",
            "(a|ab|)",
            r"(\/b|\/)",
            "(?:/a)",
            CATCH_ALL,
            "(?:\\/((?:[^\\/]+?)(?:\\/(?:[^\\/]+?))*))?",
            r"(?!\.well-known(?:\/.*)?)",
            "(?!a|b.|)",
            "(?!ab)",
            r"(?:[^/]+\/)*",
            r"[^/\.]+",
            r"\w+",
            r"(\.rsc|\.segments/.+\.segment\.rsc|)",
        ])
        .prop_map(str::to_string)
    }

    /// A piece, or a capturing group of pieces or of alternatives of pieces (without named
    /// groups, so that no name repeats).
    fn grouped_piece() -> impl Strategy<Value = String> {
        let unnamed = || piece().prop_filter("unnamed", |p| !p.contains("(?<"));
        prop_oneof![
            3 => piece(),
            1 => prop::collection::vec(unnamed(), 1..4)
                .prop_map(|ps| format!("({})", ps.concat())),
            1 => prop::collection::vec(
                prop::collection::vec(unnamed(), 0..3).prop_map(|ps| ps.concat()),
                2..4,
            )
            .prop_map(|alts| format!("({})", alts.join("|"))),
        ]
    }

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec![
                "/",
                "/",
                "a",
                "A",
                "b",
                "ab",
                ".",
                "json",
                "-",
                "\n",
                "x",
                "é",
                "\u{2028}",
                "😀",
                "\u{131}",
                ".well-known",
                "_",
                "1",
                ".rsc",
                ".segments/",
                ".segment.rsc",
            ]),
            0..10,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(8192))]

        /// Any pattern it compiles answers as `regress` does (match and captures), or declines.
        #[test]
        fn agrees_with_regress(pieces in prop::collection::vec(grouped_piece(), 0..5), icase: bool, texts in prop::collection::vec(text(), 1..8)) {
            let mut names = std::collections::HashSet::new();
            // Duplicate group names do not compile in JavaScript.
            let pieces: Vec<String> = pieces.into_iter().filter(|p| !p.contains("(?<") || names.insert(p.clone())).collect();
            let source = format!("^{}$", pieces.concat());
            let Some(s) = Segments::compile(&source, icase) else { return Ok(()) };
            let re = regress::Regex::with_flags(&source, if icase { "i" } else { "" }).unwrap();
            for t in &texts {
                match s.captures(t) {
                    None | Some(Err(Abort)) => {}
                    Some(Ok(found)) => {
                        prop_assert_eq!(found, reference(&re, t), "{} on {:?}", source, t);
                    }
                }
            }
        }
    }
}
