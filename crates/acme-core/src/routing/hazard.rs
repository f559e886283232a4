//! Patterns `regress` cannot run.
//!
//! `regress` 0.12 does not terminate on a repetition (a group quantified to more than one
//! iteration) whose body can match empty *through a quantified group inside it*:
//! `/(?:(?:a?)?){2}b/.test('a')` allocates until the process dies (gigabytes within a second;
//! V8 answers `false` at once). `(?:a??){2}b`, `(?:x(?:a?)?){2}b` and `(?:(?:a?)?)b` run
//! fine. A route regex comes from the user's `next.config` (custom regex in a `source`, a `has`
//! value), and every pattern is run on adversarial inputs when it is compiled: such a pattern
//! would take down the build or the server. [`JsRegex::new`](super::JsRegex::new) refuses it
//! instead, which fails the build naming the route, as any pattern that cannot be honoured does.
//!
//! The test is syntactic and errs on the side of refusing: a repeated group with an
//! empty-matching body that holds a quantified group with an empty-matching body.

/// Why a pattern of that shape is refused.
pub(super) const REFUSED: &str = "a repeated group whose body can match empty through a \
    quantified group inside it (such as `(?:(?:a?)?){2}`): the ECMAScript regex engine used \
    here (regress 0.12) does not terminate on such a pattern; write it without the nested \
    optional";

/// One open group (or the pattern's top level) as the scan reads it.
#[derive(Default)]
struct Level {
    /// Every atom of the current alternative so far can match empty.
    alternative_nullable: bool,
    /// An earlier alternative can match empty.
    any_nullable: bool,
    /// A quantified group with an empty-matching body occurs inside, at any depth.
    holds_nullable_loop: bool,
}

impl Level {
    fn new() -> Self {
        Self {
            alternative_nullable: true,
            ..Self::default()
        }
    }

    fn nullable(&self) -> bool {
        self.any_nullable || self.alternative_nullable
    }
}

/// The atom just read, until the next one (a quantifier may still follow it).
#[derive(Clone, Copy)]
struct Atom {
    nullable: bool,
    /// For a group: whether its body can match empty, and whether it holds such a loop.
    group: Option<(bool, bool)>,
}

/// Whether `source` has the shape `regress` does not terminate on (see the module docs).
pub fn nullable_loop_in_repetition(source: &str) -> bool {
    let chars: Vec<char> = source.chars().collect();
    let mut levels = vec![Level::new()];
    // Parallel to the open groups: whether each is a lookaround.
    let mut lookarounds: Vec<bool> = Vec::new();
    let mut last: Option<Atom> = None;
    let commit = |levels: &mut Vec<Level>, last: &mut Option<Atom>| {
        if let (Some(a), Some(top)) = (last.take(), levels.last_mut()) {
            top.alternative_nullable &= a.nullable;
            top.holds_nullable_loop |= a.group.is_some_and(|(_, holds)| holds);
        }
    };
    let atom = |nullable| {
        Some(Atom {
            nullable,
            group: None,
        })
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                commit(&mut levels, &mut last);
                let next = chars.get(i + 1).copied();
                // Assertions and back-references can match empty.
                let empty = matches!(next, Some('b' | 'B' | 'k' | '1'..='9'));
                last = atom(empty);
                i += 2;
                continue;
            }
            '[' => {
                commit(&mut levels, &mut last);
                let mut j = i + 1;
                while j < chars.len() && chars[j] != ']' {
                    j += if chars[j] == '\\' { 2 } else { 1 };
                }
                last = atom(false);
                i = j + 1;
                continue;
            }
            '(' => {
                commit(&mut levels, &mut last);
                let rest: String = chars[i + 1..chars.len().min(i + 4)].iter().collect();
                let (skip, lookaround) = if rest.starts_with("?:") {
                    (2, false)
                } else if rest.starts_with("?=") || rest.starts_with("?!") {
                    (2, true)
                } else if rest.starts_with("?<=") || rest.starts_with("?<!") {
                    (3, true)
                } else if rest.starts_with("?<") {
                    (
                        chars[i..].iter().position(|&c| c == '>').unwrap_or(0),
                        false,
                    )
                } else {
                    (0, false)
                };
                levels.push(Level::new());
                lookarounds.push(lookaround);
                i += skip;
            }
            ')' => {
                commit(&mut levels, &mut last);
                if levels.len() > 1 {
                    let level = levels.pop().unwrap_or_else(Level::new);
                    let body = level.nullable();
                    last = Some(if lookarounds.pop().unwrap_or(false) {
                        // Zero-width: no loop of its own, whatever its body.
                        Atom {
                            nullable: true,
                            group: None,
                        }
                    } else {
                        Atom {
                            nullable: body,
                            group: Some((body, level.holds_nullable_loop)),
                        }
                    });
                }
            }
            '|' => {
                commit(&mut levels, &mut last);
                if let Some(top) = levels.last_mut() {
                    top.any_nullable |= top.alternative_nullable;
                    top.alternative_nullable = true;
                }
            }
            '^' | '$' => {
                commit(&mut levels, &mut last);
                last = atom(true);
            }
            '*' | '+' | '?' | '{' => {
                let Some((min, max, end)) = quantifier(&chars, i) else {
                    // `{` that starts no quantifier: a literal.
                    commit(&mut levels, &mut last);
                    last = atom(false);
                    i += 1;
                    continue;
                };
                if let Some(mut a) = last {
                    if let Some((body, holds)) = a.group {
                        if max > 1 && body && holds {
                            return true;
                        }
                        a.group = Some((body, holds || body));
                    }
                    a.nullable |= min == 0;
                    last = Some(a);
                }
                i = end;
                // A lazy quantifier's `?`.
                if chars.get(i) == Some(&'?') {
                    i += 1;
                }
                continue;
            }
            _ => {
                commit(&mut levels, &mut last);
                last = atom(false);
            }
        }
        i += 1;
    }
    false
}

/// The quantifier at `at`: its least and most iterations (`u32::MAX`: unbounded) and where it
/// ends; `None` for a `{` that starts none (Annex B reads it as a literal). Shared with the
/// translation of patterns (`jsre::translate`).
pub(super) fn quantifier(chars: &[char], at: usize) -> Option<(u32, u32, usize)> {
    match chars.get(at)? {
        '*' => Some((0, u32::MAX, at + 1)),
        '+' => Some((1, u32::MAX, at + 1)),
        '?' => Some((0, 1, at + 1)),
        _ => {
            let close = at + chars[at..].iter().position(|&c| c == '}')?;
            let body: String = chars[at + 1..close].iter().collect();
            let (lo, hi) = match body.split_once(',') {
                Some((lo, "")) => (lo.parse().ok()?, u32::MAX),
                Some((lo, hi)) => (lo.parse().ok()?, hi.parse().ok()?),
                None => {
                    let n = body.parse().ok()?;
                    (n, n)
                }
            };
            Some((lo, hi, close + 1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each shape run by `regress` 0.12 on `a` (the bad ones allocated gigabytes).
    #[test]
    fn the_shapes_regress_does_not_terminate_on_are_found() {
        for bad in [
            "(?:(?:a?)?){2}b",
            "(?:(a?)?){2}b",
            "(?:(?<n>a?)?){2}b",
            "(?:(?:a?)??){2}b",
            "(?:(?:a?){0,1}){2}b",
            "(?:(?:a|)?){2}b",
            "(?:(?:a*)?)+b",
            "(?:(?:a?)*){2}b",
            "(?:(?:a?)+){2}b",
            "(?:(?:a?){2}){2}b",
            "(?:(?:a?)?){1,2}b",
            "(?:(?:(?:a?)?)){2}b",
            "(?:(?:a?b?)?){2}c",
            "^(?:(.{0,2})?){1,2}(?!a*)",
        ] {
            assert!(nullable_loop_in_repetition(bad), "{bad}");
        }
        for fine in [
            "(?:(?:a?)?)b",
            "(?:(?:a?)?){1}b",
            "(?:x(?:a?)?){2}b",
            "(?:(?:a?)?x){2}b",
            "(?:(?:a?)?)(?:(?:a?)?)b",
            "((?:a?)?)b",
            "(?:a??){2}b",
            "(?:(a?)){2}b",
            "^(?:\\/(_next\\/data\\/[^/]{1,}))?(?:\\/((?!_next\\/static|_next\\/image|favicon.ico).*))(\\.json|\\.rsc|\\.segments\\/.+\\.segment\\.rsc)?[\\/#\\?]?$",
            "^(?:\\/((?:[^\\/]+?)(?:\\/(?:[^\\/]+?))*))\\/$",
            "^\\/base(?:\\/(en|fr|de\\-DE))(?:\\/((?:[^\\/]+?)(?:\\/(?:[^\\/]+?))*))?(?:\\/)?$",
            "a{2,x}(?:b)*",
            "[(?:a?)?]{2}",
            "(?!(?:a?)?){2}b",
        ] {
            assert!(!nullable_loop_in_repetition(fine), "{fine}");
        }
    }
}
