//! The query of a redirect's `Location` as `next start` writes it.
//!
//! `next start` does not copy the request's query into a redirect (a trailing-slash redirect, a
//! `redirects()` entry): it parses it into an object (`searchParamsToUrlQuery`), merges the
//! destination's query over it (`prepareDestination`), and writes it again with Node's
//! `querystring.stringify`, encoding with `encodeURIComponent` the keys and values the request
//! had (server-route-utils.js `stringifyQuery`). So `?x=a+b` becomes `?x=a%20b`,
//! `?a=1&&b=2` becomes `?a=1&b=2`, `?q=75/` becomes `?q=75%2F`, integer keys come first
//! (`?b=1&2=x` is `?2=x&b=1`, a JavaScript object's key order), and a `__proto__` key is
//! dropped (assigning it sets the object's prototype). `@next/routing` appends the query as it
//! is.

use std::borrow::Cow;

use smallvec::{smallvec, SmallVec};

use super::jsre::{encode_uri_component_into, URI_COMPONENT_KEPT};
use super::weburl::form_pairs;

/// Names of `Object.prototype`'s members: `searchParamsToUrlQuery` finds one already "set"
/// (`query[key]` is the inherited function) and makes the key an array of that function and
/// the value, which `querystring.stringify` writes as an empty value first.
const INHERITED: [&str; 11] = [
    "constructor",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toLocaleString",
    "toString",
    "valueOf",
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
];

/// The query (without `?`) `next start` writes into a redirect's `Location` for a request whose
/// query is `request` (the destination has no query of its own: a `Location` with one is kept
/// as it is). Every key and value is the request's, so each is encoded.
pub fn redirect_query(request: &str) -> Cow<'_, str> {
    if written_as_is(request) {
        return Cow::Borrowed(request);
    }
    // Next's object of the query: keys in insertion order (the first of a repeated key keeps
    // its place), each with its values; `None` stands for the inherited function of an
    // [`INHERITED`] key, written as an empty value. Borrowed from `request` where nothing was
    // decoded.
    let mut keys: Vec<Key<'_>> = Vec::new();
    for (k, v) in form_pairs(request) {
        if k == "__proto__" {
            continue;
        }
        match keys.iter_mut().find(|(name, _)| *name == k) {
            Some((_, values)) => values.push(Some(v)),
            None if INHERITED.contains(&&*k) => keys.push((k, smallvec![None, Some(v)])),
            None => keys.push((k, smallvec![Some(v)])),
        }
    }
    // Array indexes first, in numeric order (a JavaScript object's key order); the sort is
    // stable for the other keys.
    if keys.iter().any(|(k, _)| array_index(k).is_some()) {
        keys.sort_by_key(|(k, _)| array_index(k).map_or((1, 0), |n| (0, n)));
    }
    let mut out = String::with_capacity(request.len() + 8);
    for (k, values) in &keys {
        for v in values {
            if !out.is_empty() {
                out.push('&');
            }
            encode_uri_component_into(&mut out, k);
            out.push('=');
            if let Some(v) = v {
                encode_uri_component_into(&mut out, v);
            }
        }
    }
    Cow::Owned(out)
}

/// A key of Next's object of a query, with its values (see [`redirect_query`]).
type Key<'q> = (Cow<'q, str>, SmallVec<[Option<Cow<'q, str>>; 1]>);

/// Whether [`redirect_query`] writes `q` as it is (most queries, `a=1&b=x`): every pair a
/// `key=value` of bytes `encodeURIComponent` keeps, no key twice, none an array index (it would
/// move first) or one of `Object.prototype`'s. One pass over the bytes: it runs on every
/// redirect with a query.
fn written_as_is(q: &str) -> bool {
    let b = q.as_bytes();
    let mut seen: SmallVec<[&[u8]; 4]> = SmallVec::new();
    let mut start = 0;
    loop {
        let mut eq = None;
        let mut i = start;
        while i < b.len() && b[i] != b'&' {
            match b[i] {
                b'=' if eq.is_none() => eq = Some(i),
                c if URI_COMPONENT_KEPT[usize::from(c)] => {}
                _ => return false,
            }
            i += 1;
        }
        let Some(eq) = eq else { return false };
        let key = &b[start..eq];
        if key.first().is_some_and(u8::is_ascii_digit)
            || key == b"__proto__"
            || INHERITED.iter().any(|n| n.as_bytes() == key)
            || seen.contains(&key)
        {
            return false;
        }
        seen.push(key);
        if i == b.len() {
            return true;
        }
        start = i + 1;
    }
}

/// Whether a key is an array index, which a JavaScript object lists first, in numeric order.
fn array_index(key: &str) -> Option<u32> {
    let b = key.as_bytes();
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) || (b[0] == b'0' && b.len() > 1) {
        return None;
    }
    key.parse::<u32>().ok().filter(|&n| n != u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each as `next start` 16.4 answered it (a trailing-slash redirect of the request's query),
    /// or as Next's own `searchParamsToUrlQuery` + `stringifyQuery` write it.
    #[test]
    fn writes_the_query_as_next_start() {
        for (request, written) in [
            ("a=1", "a=1"),
            ("x=a+b", "x=a%20b"),
            ("x=%20y", "x=%20y"),
            ("a=1&&b=2", "a=1&b=2"),
            ("__proto__=1", ""),
            ("__proto__=1&a=2", "a=2"),
            (
                "url=%2Fimages%2Flogo.svg&w=64&q=75/",
                "url=%2Fimages%2Flogo.svg&w=64&q=75%2F",
            ),
            ("a=1&a=2", "a=1&a=2"),
            ("b=1&2=x&a=3&1=y", "1=y&2=x&b=1&a=3"),
            ("01=x&1=y", "1=y&01=x"),
            ("=v", "=v"),
            ("empty=", "empty="),
            ("flag", "flag="),
            ("q=%E2%82%AC", "q=%E2%82%AC"),
            ("q=%zz", "q=%25zz"),
            ("toString=1", "toString=&toString=1"),
            ("a=~!*()'", "a=~!*()'"),
        ] {
            assert_eq!(redirect_query(request), written, "?{request}");
            // The shortcut is taken only where the query is written as it is.
            assert!(!written_as_is(request) || request == written, "?{request}");
        }
        for plain in ["a=1", "go=home&tag=ABC1", "empty=", "=v", "a_b.c-d=~!*()'"] {
            assert!(written_as_is(plain), "?{plain}");
        }
    }
}
