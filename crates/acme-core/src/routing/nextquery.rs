//! The query of a redirect's `Location` as `next start` writes it.
//!
//! `next start` does not copy the request's query into a redirect (a trailing-slash redirect, a
//! `redirects()` entry): it parses it into an object (`searchParamsToUrlQuery`), merges the
//! destination's query over it (`prepareDestination`), and writes it again with Node's
//! `querystring.stringify`, encoding with `encodeURIComponent` only the keys and values the
//! request had (server-route-utils.js `stringifyQuery`). So `?x=a+b` becomes `?x=a%20b`,
//! `?a=1&&b=2` becomes `?a=1&b=2`, `?q=75/` becomes `?q=75%2F`, integer keys come first
//! (`?b=1&2=x` is `?2=x&b=1`, a JavaScript object's key order), and a `__proto__` key is
//! dropped (assigning it sets the object's prototype). `@next/routing` appends the query as it
//! is.

use super::jsre::encode_uri_component;
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

/// A query as Next's object of it: keys in insertion order, each with its values (`None`: the
/// inherited function of an [`INHERITED`] key, written as an empty value).
type Query = Vec<(String, Vec<Option<String>>)>;

fn parse(query: &str) -> Query {
    let mut out: Query = Vec::new();
    for (k, v) in form_pairs(query) {
        if k == "__proto__" {
            continue;
        }
        match out.iter_mut().find(|(name, _)| *name == k) {
            Some((_, values)) => values.push(Some(v.into_owned())),
            None if INHERITED.contains(&&*k) => {
                out.push((k.into_owned(), vec![None, Some(v.into_owned())]))
            }
            None => out.push((k.into_owned(), vec![Some(v.into_owned())])),
        }
    }
    out
}

/// Whether a key is an array index, which a JavaScript object lists first, in numeric order.
fn array_index(key: &str) -> Option<u32> {
    let canonical =
        key == "0" || (!key.starts_with('0') && key.bytes().all(|b| b.is_ascii_digit()));
    key.parse::<u32>()
        .ok()
        .filter(|&n| canonical && n != u32::MAX)
}

/// The query (without `?`) `next start` writes into a redirect's `Location` for a request whose
/// query is `request` and a destination whose query is `destination` (its values win).
pub fn redirect_query(request: &str, destination: Option<&str>) -> String {
    let initial = parse(request);
    let mut merged = initial.clone();
    for (k, values) in destination.map(parse).unwrap_or_default() {
        match merged.iter_mut().find(|(name, _)| *name == k) {
            Some(entry) => entry.1 = values,
            None => merged.push((k, values)),
        }
    }
    // Array indexes first, in numeric order; the sort is stable for the other keys.
    merged.sort_by_key(|(k, _)| array_index(k).map_or((1, 0), |n| (0, n)));
    // Only what the request had is encoded (`stringifyQuery`'s `encodeURIComponent`).
    let encode = |s: &str| -> String {
        let known = initial
            .iter()
            .any(|(k, values)| k == s || values.iter().any(|v| v.as_deref() == Some(s)));
        if known {
            encode_uri_component(s)
        } else {
            s.to_string()
        }
    };
    let mut out = String::new();
    for (k, values) in &merged {
        let key = encode(k);
        for v in values {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(&key);
            out.push('=');
            out.push_str(&v.as_deref().map(encode).unwrap_or_default());
        }
    }
    out
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
            assert_eq!(redirect_query(request, None), written, "?{request}");
        }
    }

    #[test]
    fn destination_values_win_and_are_written_as_they_are() {
        assert_eq!(redirect_query("a=1&b=2", Some("a=x y")), "a=x y&b=2");
        assert_eq!(redirect_query("a=1", Some("c=3")), "a=1&c=3");
        // A destination value the request also had is encoded.
        assert_eq!(redirect_query("a=x y", Some("c=x y")), "a=x%20y&c=x%20y");
    }
}
