//! Routing: Next's route regexes are JavaScript regexes, compiled here with ECMAScript semantics.
//!
//! At build time every pattern is compiled once so that a pattern the runtime could not honour
//! fails the build, naming the phase and index, instead of failing requests later.

mod backtrack;
mod bytescan;
mod engine;
mod hazard;
mod jsre;
mod lookahead;
mod nextquery;
mod segments;
mod weburl;

/// `value` as JavaScript's `escapeStringRegexp` (Next's copy) writes it in a regex source: how
/// Next writes build ids and the Flight suffixes into the route regexes it emits.
pub(crate) fn regex_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if "|\\{}()[]^$+*?.-".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The concatenation of `parts`, allocated once (`format!` costs more than routing steps do).
fn cat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.push_str(p);
    }
    out
}

/// Where ASCII byte `b` first occurs in `s`. A plain loop: routing searches short strings (a
/// destination, a query pair, a path segment), where `str::find(char)`'s searcher costs more to
/// set up (a `memchr` call, ~100 instructions) than the search itself.
#[inline]
fn find_byte(s: &str, b: u8) -> Option<usize> {
    s.bytes().position(|c| c == b)
}

/// The byte an escape `%XY` names, of its hex digits `hi` and `lo` (`None`: not hex digits).
fn hex_byte(hi: u8, lo: u8) -> Option<u8> {
    let digit = |c: u8| (c as char).to_digit(16);
    Some((digit(hi)? * 16 + digit(lo)?) as u8)
}

/// `s.split_once(b)` for an ASCII byte `b`, by [`find_byte`].
#[inline]
fn split_once_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    let i = find_byte(s, b)?;
    // (An ASCII byte is a character of its own: both sides are whole characters.)
    Some((s.get(..i)?, s.get(i + 1..)?))
}

pub use engine::{
    Decision, DecisionKind, HeaderList, MiddlewareResult, Redirect, Request, Router, RouterError,
    Target, PENDING_CAPACITY,
};
pub use hazard::nullable_loop_in_repetition;
pub use jsre::{
    decode_uri_component, encode_uri_path, Captures, FilterMatches, JsRegex, RegexFilter, MAX_INPUT,
};

use crate::error::{Error, Result};
use crate::model::{BuildContext, RouteHas};

/// Compiles a JavaScript regex source with the flags Next uses for route matching.
/// Refuses, as [`JsRegex::new`] does, a pattern `regress` would not terminate on.
pub fn compile_js_regex(source: &str) -> std::result::Result<regress::Regex, String> {
    let re = regress::Regex::with_flags(source, "").map_err(|e| e.to_string())?;
    if nullable_loop_in_repetition(source) {
        return Err(hazard::REFUSED.into());
    }
    Ok(re)
}

/// Compiles every `sourceRegex` and every `has`/`missing` value regex of the routing table.
pub fn validate(ctx: &BuildContext) -> Result<()> {
    for (phase, routes) in ctx.routing.phases() {
        for (index, route) in routes.iter().enumerate() {
            let fail = |pattern: &str, message: String| Error::InvalidRouteRegex {
                phase: phase.to_string(),
                index,
                pattern: pattern.to_string(),
                message,
            };
            compile_js_regex(&route.source_regex).map_err(|m| fail(&route.source_regex, m))?;
            for cond in route.has.iter().chain(&route.missing).flatten() {
                if let Some(v) = condition_regex(cond) {
                    compile_js_regex(v).map_err(|m| fail(v, m))?;
                }
            }
        }
    }
    for (index, m) in ctx.middleware_matchers().iter().enumerate() {
        compile_js_regex(&m.source_regex).map_err(|message| Error::InvalidRouteRegex {
            phase: "middlewareMatchers".into(),
            index,
            pattern: m.source_regex.clone(),
            message,
        })?;
    }
    Ok(())
}

fn condition_regex(cond: &RouteHas) -> Option<&str> {
    match cond {
        RouteHas::Header { value, .. }
        | RouteHas::Cookie { value, .. }
        | RouteHas::Query { value, .. } => value.as_deref(),
        RouteHas::Host { value } => Some(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn js_features_compile() {
        for src in [
            r"^(?:\/(_next\/data\/[^/]{1,}))?(?:\/((?!_next\/static|_next\/image|favicon.ico).*))(\.json|\.rsc|\.segments\/.+\.segment\.rsc)?[\/#\?]?$",
            r"^[/]?/blog/(?<nxtPslug>[^/]+?)(\.rsc|\.segments/.+\.segment\.rsc|)(?:/)?$",
        ] {
            assert!(compile_js_regex(src).is_ok(), "{src}");
        }
        assert!(compile_js_regex("(unclosed").is_err());
        let refused = compile_js_regex("^/(?:(?:a?)?)*x$")
            .err()
            .unwrap_or_default();
        assert!(refused.contains("does not terminate"), "{refused}");
    }
}
