//! [`Url`]: the WHATWG URL operations routing uses, on one string with component offsets.
//!
//! Parsing a request URL with the `url` crate (host parser, per-character percent-encoding and
//! dot-segment handling) was a tenth of the time of a routed request. Most request URLs, and
//! most paths and queries routing writes, are already in the form the WHATWG parser serializes
//! them to: for those (checked conservatively by [`fast_parse`], [`plain_path`] and
//! [`plain_query`]) the string is taken as it is, and a request URL's `.` and `..` segments (a
//! tenth of the corpus's URLs) are resolved by [`fast_parse`] itself. Everything else goes through the `url` crate,
//! so the results are the `url` crate's either way (the property tests below compare them).

use super::bytescan::{self, printable_except};
use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

/// An absolute URL: its serialization and where its components are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    s: String,
    scheme_end: usize,
    host: Option<(usize, usize)>,
    port: Option<u16>,
    path_start: usize,
    /// Index of the `?`.
    query_start: Option<usize>,
    /// Index of the `#`.
    fragment_start: Option<usize>,
    /// The `url` crate's URL this one came from, until a fast path changes it: reparsing the
    /// serialization is not always the same URL (`mailto:` with a path `?`).
    full: Option<Box<url::Url>>,
}

impl Url {
    /// `new URL(input)`.
    pub fn parse(input: &str) -> Result<Self, url::ParseError> {
        match fast_parse(input) {
            Some(Parsed::AsIs(at)) => Ok(Self::serialized(input.to_string(), at)),
            Some(Parsed::Built(u)) => Ok(u),
            None => url::Url::parse(input).map(Self::from_url),
        }
    }

    /// [`Url::parse`] of a string the caller gives up: an input already in serialized form (the
    /// usual) becomes the URL's own string instead of being copied into one. (The runtime hands
    /// the router origin-form request targets, made absolute by joining them to the host.)
    pub fn parse_owned(input: String) -> Result<Self, url::ParseError> {
        match fast_parse(&input) {
            Some(Parsed::AsIs(at)) => Ok(Self::serialized(input, at)),
            Some(Parsed::Built(u)) => Ok(u),
            None => url::Url::parse(&input).map(Self::from_url),
        }
    }

    /// The URL whose serialization is `s`, its components where `at` found them.
    fn serialized(s: String, at: Components) -> Self {
        Url {
            s,
            scheme_end: at.scheme_end,
            host: Some(at.host),
            port: at.port,
            path_start: at.path_start,
            query_start: at.query_start,
            fragment_start: at.fragment_start,
            full: None,
        }
    }

    fn from_url(u: url::Url) -> Self {
        use url::Position;
        let scheme_end = u.scheme().len();
        let host = u.host_str().map(|_| {
            (
                u[..Position::BeforeHost].len(),
                u[..Position::AfterHost].len(),
            )
        });
        let port = u.port();
        let path_start = u[..Position::BeforePath].len();
        let after_path = u[..Position::AfterPath].len();
        let after_query = u[..Position::AfterQuery].len();
        let query_start = u.query().map(|_| after_path);
        let fragment_start = u.fragment().map(|_| after_query);
        Self {
            s: u.as_str().to_string(),
            scheme_end,
            host,
            port,
            path_start,
            query_start,
            fragment_start,
            full: Some(Box::new(u)),
        }
    }

    /// The `url` crate's form of this URL (`None` cannot happen: a fast-path URL is an http(s)
    /// URL in serialized form, which parses to itself).
    fn to_url(&self) -> Option<url::Url> {
        match &self.full {
            Some(u) => Some((**u).clone()),
            None => url::Url::parse(&self.s).ok(),
        }
    }

    /// The serialization (`href`).
    pub fn as_str(&self) -> &str {
        &self.s
    }

    /// The scheme, without `:`.
    pub fn scheme(&self) -> &str {
        &self.s[..self.scheme_end]
    }

    /// Whether the scheme is `http` or `https` and the URL has a host (the URLs whose paths and
    /// queries the fast paths write).
    fn is_web(&self) -> bool {
        self.host.is_some() && matches!(self.scheme(), "http" | "https")
    }

    /// The host (`hostname`), if any.
    pub fn host_str(&self) -> Option<&str> {
        self.host.map(|(a, b)| &self.s[a..b])
    }

    /// The port, or the scheme's default.
    pub fn port_or_known_default(&self) -> Option<u16> {
        self.port.or(match self.scheme() {
            "http" | "ws" => Some(80),
            "https" | "wss" => Some(443),
            "ftp" => Some(21),
            _ => None,
        })
    }

    /// `origin`, serialized.
    pub fn origin_ascii(&self) -> String {
        self.to_url()
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|| "null".into())
    }

    fn path_range(&self) -> Range<usize> {
        let end = self
            .query_start
            .or(self.fragment_start)
            .unwrap_or(self.s.len());
        self.path_start..end
    }

    /// The path (`pathname`).
    pub fn path(&self) -> &str {
        &self.s[self.path_range()]
    }

    /// The query without `?` (`None`: no `?`).
    pub fn query(&self) -> Option<&str> {
        let end = self.fragment_start.unwrap_or(self.s.len());
        self.query_start.map(|q| &self.s[q + 1..end])
    }

    /// The fragment without `#` (`None`: no `#`).
    pub fn fragment(&self) -> Option<&str> {
        self.fragment_start.map(|f| &self.s[f + 1..])
    }

    /// The query's `application/x-www-form-urlencoded` pairs (`searchParams`).
    pub fn query_pairs(&self) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
        form_pairs(self.query().unwrap_or(""))
    }

    /// Replaces `range` of the serialization, moving the offsets after it.
    fn splice(&mut self, range: Range<usize>, with: &str) {
        let (start, end) = (range.start, range.end);
        self.full = None;
        // Copied as three slices: `String::replace_range` splices byte by byte through an
        // iterator, which cost more than the rest of setting a path.
        let mut s = String::with_capacity(self.s.len() - (end - start) + with.len());
        s.push_str(&self.s[..start]);
        s.push_str(with);
        s.push_str(&self.s[end..]);
        self.s = s;
        let moved = |i: usize| {
            if i >= end {
                i + with.len() - (end - start)
            } else {
                i
            }
        };
        self.query_start = self.query_start.map(moved);
        self.fragment_start = self.fragment_start.map(moved);
    }

    /// Goes through the `url` crate.
    fn via_url(&mut self, f: impl FnOnce(&mut url::Url)) {
        if let Some(mut u) = self.to_url() {
            f(&mut u);
            *self = Self::from_url(u);
        }
    }

    /// `url.pathname = path`.
    pub fn set_path(&mut self, path: &str) {
        if self.is_web() && plain_path(path) {
            self.splice(self.path_range(), path);
        } else {
            self.via_url(|u| u.set_path(path));
        }
    }

    /// Sets (`Some`, without `?`) or removes (`None`) the query.
    pub fn set_query(&mut self, query: Option<&str>) {
        if !self.is_web() || !query.is_none_or(plain_query) {
            self.via_url(|u| u.set_query(query));
            return;
        }
        let end = self.fragment_start.unwrap_or(self.s.len());
        let start = self.query_start.unwrap_or(end);
        match query {
            Some(q) => {
                self.splice(start..end, &super::cat(&["?", q]));
                self.query_start = Some(start);
            }
            None => {
                self.splice(start..end, "");
                self.query_start = None;
            }
        }
    }

    /// Whether [`Url::join`] of `reference` is this URL's origin followed by `reference` as it
    /// is: an http(s) URL and a path-absolute reference (`/x`, not `//host` nor `/\host`) that the
    /// WHATWG parser keeps unchanged (no byte it encodes, no `.`/`..` segment, no query or
    /// fragment). Such a join needs neither a new URL nor a parse.
    pub fn joins_as_is(&self, reference: &str) -> bool {
        let b = reference.as_bytes();
        self.is_web()
            && b.first() == Some(&b'/')
            && b.get(1) != Some(&b'/')
            && plain_path_end(b) == Some(b.len())
    }

    /// `new URL(input, this)`.
    pub fn join(&self, input: &str) -> Result<Self, url::ParseError> {
        // A path-absolute reference (`/x`, not `//host` nor `/\host`, which name an authority
        // for http(s), also once the parser has removed tabs and newlines) keeps this URL's
        // origin: the same as parsing it appended to the origin.
        let b = input.as_bytes();
        let second = b
            .iter()
            .skip(1)
            .find(|c| !matches!(c, b'\t' | b'\n' | b'\r'));
        if self.is_web() && b.first() == Some(&b'/') && !matches!(second, Some(b'/' | b'\\')) {
            return Self::parse(&format!("{}{input}", &self.s[..self.path_start]));
        }
        // An absolute http(s) URL (a middleware rewrite's or redirect's, usually) ignores the
        // base: a scheme followed by `//` names its own authority, whatever the base's scheme.
        // Parsed on its own it takes the fast path, instead of the `url` crate's join.
        if b.starts_with(b"http://") || b.starts_with(b"https://") {
            return Self::parse(input);
        }
        let base = self.to_url().ok_or(url::ParseError::EmptyHost)?;
        base.join(input).map(Self::from_url)
    }
}

/// The `application/x-www-form-urlencoded` pairs of `s`, as `url::form_urlencoded::parse`
/// (and `URLSearchParams`) decodes them: a name or value without `+` or `%` (most) is borrowed
/// as it is (it is UTF-8 already, and there is nothing to decode).
pub fn form_pairs(s: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    // (A predicate, not the char: `split('&')` sets up a `memchr` search per piece.)
    #[allow(clippy::manual_pattern_char_comparison)]
    s.split(|c| c == '&').filter(|p| !p.is_empty()).map(|p| {
        let (k, v) = super::split_once_byte(p, b'=').unwrap_or((p, ""));
        (decode_form(k), decode_form(v))
    })
}

/// An `application/x-www-form-urlencoded` name or value decoded as `URLSearchParams` decodes it
/// (`+` a space, `%XX` a byte, a `%` not followed by two hex digits kept, invalid UTF-8 as
/// U+FFFD), borrowed when there is nothing to decode.
fn decode_form(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    if !b.iter().any(|&c| c == b'+' || c == b'%') {
        return Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => match b
                .get(i + 1..i + 3)
                .and_then(|h| super::hex_byte(h[0], h[1]))
            {
                Some(byte) => {
                    out.push(byte);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Path bytes kept as they are: outside the path percent-encode set, and not `\`, `?`, `#`.
const PATH_BYTES: [bool; 256] = printable_except(b"\"<>`{}\\?#");
/// The bytes that are not [`PATH_BYTES`], with `.` and `%` (what a dot segment begins with):
/// where [`path_scan`] stops.
const PATH_STOPS: bytescan::StopSet<11> = bytescan::StopSet::new(*b"\"<>`{}\\?#.%");
/// The query bytes not kept as they are (outside the special-query percent-encode set), and `#`,
/// which ends the query.
const QUERY_STOPS: bytescan::StopSet<5> = bytescan::StopSet::new(*b"\"<>'#");
/// Fragment bytes kept as they are: outside the fragment percent-encode set.
const FRAGMENT_BYTES: [bool; 256] = printable_except(b"\"<>`");

/// A path that the WHATWG path parser leaves as it is below an http(s) host: it starts with `/`,
/// holds only [`PATH_BYTES`], and no segment is `.` or `..` (also spelled with `%2e`).
fn plain_path(p: &str) -> bool {
    p.starts_with('/') && plain_path_end(p.as_bytes()) == Some(p.len())
}

/// A query that the WHATWG query parser leaves as it is for an http(s) URL.
fn plain_query(q: &str) -> bool {
    !q.bytes().any(|c| QUERY_STOPS.contains(c))
}

/// What a byte of a URL's path, query or fragment means to [`fast_parse`]'s scan.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Byte {
    /// Kept as it is.
    Plain,
    /// Ends the component, or is not kept as it is.
    Other,
    /// `.` or `%`: may begin a dot segment.
    Dot,
    Question,
    Hash,
}

/// [`Byte`] of each byte in a path (`/` and the delimiters apart; [`PATH_BYTES`]).
const PATH_CLASS: [Byte; 256] = {
    let mut t = [Byte::Other; 256];
    let mut c = 0;
    while c < 256 {
        if PATH_BYTES[c] {
            t[c] = Byte::Plain;
        }
        c += 1;
    }
    t[b'.' as usize] = Byte::Dot;
    t[b'%' as usize] = Byte::Dot;
    t[b'?' as usize] = Byte::Question;
    t[b'#' as usize] = Byte::Hash;
    t
};

/// What a byte of a host means to [`fast_parse`]'s scan, which accepts ASCII letters, digits,
/// `-` and `.`: one table lookup tells all it needs of a byte the scan stops at (lower-case
/// letters, digits and `-` are skipped by [`bytescan::not_label_bytes`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum HostByte {
    /// A lower-case letter, a digit or `-`.
    Plain,
    /// An upper-case letter (the host is then lower-cased).
    Upper,
    /// Ends a label.
    Dot,
    /// Ends the host, or is not accepted in it.
    Other,
}

/// [`HostByte`] of each byte.
const HOST_CLASS: [HostByte; 256] = {
    let mut t = [HostByte::Other; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = if b.is_ascii_uppercase() {
            HostByte::Upper
        } else if b.is_ascii_alphanumeric() || b == b'-' {
            HostByte::Plain
        } else if b == b'.' {
            HostByte::Dot
        } else {
            HostByte::Other
        };
        c += 1;
    }
    t
};

/// A host label the WHATWG host parser keeps as it is (up to case): not empty, no IDNA `xn--`
/// prefix, not starting or ending with `-`.
fn plain_label(l: &[u8]) -> bool {
    let idna = l.len() >= 4 && l[..4].eq_ignore_ascii_case(b"xn--");
    !l.is_empty() && !idna && l[0] != b'-' && l[l.len() - 1] != b'-'
}

/// How many dots a path segment is to the WHATWG path parser: 1 for `.`, 2 for `..` (either
/// dot may be spelled `%2e`, in either case), 0 for any other segment.
fn dots(seg: &[u8]) -> u8 {
    let dot = |d: &[u8]| d == b"." || d.eq_ignore_ascii_case(b"%2e");
    match seg.len() {
        1 | 3 if dot(seg) => 1,
        2 | 4 | 6 => {
            let split = |at: usize| at < seg.len() && dot(&seg[..at]) && dot(&seg[at..]);
            u8::from(split(1) || split(3)) * 2
        }
        _ => 0,
    }
}

/// Scans a path from its leading `/` (one pass, [`path_scan`]'s: it runs on every request URL): where it ends (the first `?` or `#`, or the end of `b`), or `None`
/// when the WHATWG path parser would not keep it as it is (a byte outside [`PATH_BYTES`], a `.`
/// or `..` segment).
fn plain_path_end(b: &[u8]) -> Option<usize> {
    path_scan(b, 0).and_then(|(end, dots)| (!dots).then_some(end))
}

/// [`plain_path_end`], with `.` and `..` segments allowed: where the path ends, and whether it
/// has such a segment. `None`: a byte outside [`PATH_BYTES`]. The path starts at `from` in `b`
/// (with its `/`) and the end is a position in `b`: the scan may look at bytes before `from`
/// ([`bytescan`]), never outside `b`.
fn path_scan(b: &[u8], from: usize) -> Option<(usize, bool)> {
    let mut dots = false;
    // Most bytes are plain: only the others are visited. A dot segment begins with `.` or `%`
    // right after a `/`, so slashes need no visit (most paths have more of them than dots).
    for i in bytescan::stops_in(b, from, &PATH_STOPS) {
        match PATH_CLASS[usize::from(b[i])] {
            Byte::Dot => dots |= i > from && b[i - 1] == b'/' && dot_segment_at(b, i),
            Byte::Question | Byte::Hash => return Some((i, dots)),
            Byte::Other | Byte::Plain => return None,
        }
    }
    Some((b.len(), dots))
}

/// Whether the path segment beginning at `b[at]` (up to the next `/`, `?` or `#`, or the end of
/// `b`) is a dot segment ([`dots`]): one of at most six bytes.
fn dot_segment_at(b: &[u8], at: usize) -> bool {
    let rest = &b[at..b.len().min(at + 7)];
    let len = rest
        .iter()
        .position(|&c| matches!(c, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    dots(&rest[..len]) > 0
}

/// Appends `path` (from its leading `/`, bytes as [`path_scan`] takes them) with its `.` and
/// `..` segments ([`dots`]) resolved as the WHATWG path parser does for an http(s) URL: `.` is
/// dropped, `..` drops the segment before it, and either one last leaves the path ending in `/`.
fn push_resolved_path(out: &mut String, path: &str) {
    let base = out.len();
    // (A predicate, as in `form_pairs`.)
    #[allow(clippy::manual_pattern_char_comparison)]
    let mut segments = path[1..].split(|c| c == '/').peekable();
    while let Some(seg) = segments.next() {
        let last = segments.peek().is_none();
        match dots(seg.as_bytes()) {
            2 => {
                if let Some(cut) = out.as_bytes()[base..].iter().rposition(|&c| c == b'/') {
                    out.truncate(base + cut);
                }
                if last {
                    out.push('/');
                }
            }
            1 => {
                if last {
                    out.push('/');
                }
            }
            _ => {
                out.push('/');
                out.push_str(seg);
            }
        }
    }
}

/// `http(s)://host[:port][/path][?query][#fragment]` already in serialized form (up to a
/// default port, upper-case host letters and an empty path, which are normalized here): parsed
/// without the `url` crate, in one pass over the bytes (it runs on every request). `None`: not
/// certainly so; the caller parses it with the `url` crate.
///
/// Accepted: a host of the bytes [`HOST_CLASS`] accepts, in labels that [`plain_label`]
/// accepts, whose last label is neither all digits nor `0x…` (either would make it an IPv4
/// address); a port of digits without a leading zero; a path of [`PATH_BYTES`] (its `.` and `..`
/// segments, `%2e` or not, resolved here: [`push_resolved_path`]); a query without [`QUERY_STOPS`]; a
/// fragment of [`FRAGMENT_BYTES`].
fn fast_parse(input: &str) -> Option<Parsed> {
    let b = input.as_bytes();
    let (scheme_end, default_port) = if b.starts_with(b"http://") {
        (4, 80)
    } else if b.starts_with(b"https://") {
        (5, 443)
    } else {
        return None;
    };
    let host_start = scheme_end + 3;
    // Host: labels checked as each ends.
    let mut label = host_start;
    let mut upper = false;
    // The host ends at the first byte that is not a letter, a digit, `-` or `.` (the end of the
    // text if none is); lower-case letters, digits and `-` are not visited.
    let mut i = b.len();
    for at in bytescan::not_label_bytes(b, host_start) {
        match HOST_CLASS[usize::from(b[at])] {
            HostByte::Plain => {}
            HostByte::Upper => upper = true,
            HostByte::Dot => {
                if !plain_label(&b[label..at]) {
                    return None;
                }
                label = at + 1;
            }
            HostByte::Other => {
                i = at;
                break;
            }
        }
    }
    let host_end = i;
    let last = &b[label..host_end];
    if !plain_label(last)
        || last.iter().all(u8::is_ascii_digit)
        || (last.len() >= 2 && last[..2].eq_ignore_ascii_case(b"0x"))
    {
        return None;
    }
    // Port.
    let mut port = None;
    let mut port_kept = true;
    if b.get(i) == Some(&b':') {
        let digits_start = i + 1;
        i = digits_start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &input[digits_start..i];
        if digits.is_empty() || digits.starts_with('0') {
            return None;
        }
        let n: u16 = digits.parse().ok()?;
        port = (n != default_port).then_some(n);
        port_kept = port.is_some();
    }
    let path_start_in = i;
    let mut dots = false;
    let path_end_in = match b.get(i) {
        None | Some(b'?' | b'#') => i,
        Some(b'/') => {
            let (end, dot_segments) = path_scan(b, i)?;
            dots = dot_segments;
            end
        }
        Some(_) => return None,
    };
    let query_at = (b.get(path_end_in) == Some(&b'?')).then_some(path_end_in);
    let mut fragment_at = (b.get(path_end_in) == Some(&b'#')).then_some(path_end_in);
    if let Some(q) = query_at {
        match bytescan::stops_in(b, q + 1, &QUERY_STOPS).next() {
            None => {}
            Some(i) if b[i] == b'#' => fragment_at = Some(i),
            Some(_) => return None,
        }
    }
    if let Some(f) = fragment_at {
        if !b[f + 1..].iter().all(|&c| FRAGMENT_BYTES[usize::from(c)]) {
            return None;
        }
    }
    let empty_path = path_end_in == path_start_in;
    if !upper && port_kept && !empty_path && !dots {
        // Already serialized: the input as it is.
        return Some(Parsed::AsIs(Components {
            scheme_end,
            host: (host_start, host_end),
            port,
            path_start: path_start_in,
            query_start: query_at,
            fragment_start: fragment_at,
        }));
    }
    let mut s = String::with_capacity(input.len() + 1);
    s.push_str(&input[..host_end]);
    s[host_start..].make_ascii_lowercase();
    if let Some(p) = port {
        s.push(':');
        s.push_str(&p.to_string());
    }
    let path_start = s.len();
    if empty_path {
        s.push('/');
    } else if dots {
        push_resolved_path(&mut s, &input[path_start_in..path_end_in]);
    } else {
        s.push_str(&input[path_start_in..path_end_in]);
    }
    let shift = |at: usize| at + s.len() - path_end_in;
    let query_start = query_at.map(shift);
    let fragment_start = fragment_at.map(shift);
    s.push_str(&input[path_end_in..]);
    Some(Parsed::Built(Url {
        s,
        scheme_end,
        host: Some((host_start, host_end)),
        port,
        path_start,
        query_start,
        fragment_start,
        full: None,
    }))
}

/// What [`fast_parse`] makes of an input.
enum Parsed {
    /// The input is a serialized URL already, with these components.
    AsIs(Components),
    /// The URL, serialized anew (normalized).
    Built(Url),
}

/// Where a serialized http(s) URL's components are (as [`Url`] keeps them).
struct Components {
    scheme_end: usize,
    host: (usize, usize),
    port: Option<u16>,
    path_start: usize,
    query_start: Option<usize>,
    fragment_start: Option<usize>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    /// Everything observable of a URL: href, scheme, host, port, path, query, fragment.
    type Parts = (
        String,
        String,
        Option<String>,
        Option<u16>,
        String,
        Option<String>,
        Option<String>,
    );

    /// [`Parts`] of ours and of the `url` crate's.
    fn parts(u: &Url) -> Parts {
        (
            u.as_str().to_string(),
            u.scheme().to_string(),
            u.host_str().map(str::to_string),
            u.port_or_known_default(),
            u.path().to_string(),
            u.query().map(str::to_string),
            u.fragment().map(str::to_string),
        )
    }

    fn url_parts(u: &url::Url) -> Parts {
        (
            u.as_str().to_string(),
            u.scheme().to_string(),
            u.host_str().map(str::to_string),
            u.port_or_known_default(),
            u.path().to_string(),
            u.query().map(str::to_string),
            u.fragment().map(str::to_string),
        )
    }

    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "a",
                "B",
                "0",
                "-",
                ".",
                "..",
                "/",
                "//",
                "\\",
                "?",
                "#",
                "%",
                "%2e",
                "%2E",
                "%2f",
                "%zz",
                " ",
                "\t",
                "\n",
                "\"",
                "'",
                "<",
                ">",
                "`",
                "{",
                "}",
                "|",
                "^",
                "[",
                "]",
                ":",
                "@",
                "=",
                "&",
                "+",
                ";",
                ",",
                "~",
                "!",
                "$",
                "*",
                "(",
                ")",
                "é",
                "😀",
                "\u{0}",
                "\u{7f}",
                "xn--",
                "0x",
                "80",
                "443",
                "localhost",
                "example.com",
            ])
            .prop_map(str::to_string),
            "[a-z0-9./?#%=&-]{0,6}",
        ]
    }

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(piece(), 0..8).prop_map(|v| v.concat())
    }

    fn input() -> impl Strategy<Value = String> {
        (
            prop::sample::select(vec![
                "http://", "https://", "HTTP://", "http:/", "mailto:", "",
            ]),
            prop::sample::select(vec![
                "localhost",
                "example.com",
                "Example.COM",
                "a.b-c.d",
                "127.0.0.1",
                "1.2.3",
                "x.0x1f",
                "X.0X1F",
                "XN--nxasmq6b.com",
                "a.B1",
                "xn--nxasmq6b",
                "-a.b",
                "a..b",
                "",
                "h:80",
                "h:443",
                "h:8080",
                "h:0",
                "h:080",
                "h:",
                "h:99999",
                "u@h",
                "[::1]",
                "a.",
            ]),
            text(),
        )
            .prop_map(|(s, h, t)| format!("{s}{h}{t}"))
    }

    /// `decode_form` decodes as the `url` crate's form parser (`URLSearchParams`) does.
    #[test]
    fn decodes_as_url_search_params() {
        for s in [
            "a+b",
            "%20y",
            "%E2%82%AC",
            "%zz",
            "%",
            "%2",
            "%C3",
            "%c3%a9",
            "plain",
            "%FF%FE",
            "a%2Bb+%2B",
        ] {
            let theirs: String = url::form_urlencoded::parse(format!("k={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            assert_eq!(decode_form(s), theirs, "{s}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn form_pairs_are_the_url_crates(query in prop_oneof![text(), "([a-c=&+ é]|%(2[0B]|C3|A9|FF|[0-9A-Fa-f]?))*"]) {
            let ours: Vec<_> = form_pairs(&query).collect();
            let theirs: Vec<_> = url::form_urlencoded::parse(query.as_bytes()).collect();
            prop_assert_eq!(ours, theirs);
        }

        #[test]
        fn parse_is_the_url_crates(input in input()) {
            let ours = Url::parse(&input).ok().map(|u| parts(&u));
            let theirs = url::Url::parse(&input).ok().map(|u| url_parts(&u));
            prop_assert_eq!(&ours, &theirs);
            // Given up or borrowed, the same URL.
            let owned = Url::parse_owned(input.clone()).ok().map(|u| parts(&u));
            prop_assert_eq!(owned, ours);
        }

        #[test]
        fn set_path_and_query_are_the_url_crates(input in input(), path in text(), query in prop::option::of(text())) {
            let (Ok(mut ours), Ok(mut theirs)) = (Url::parse(&input), url::Url::parse(&input)) else {
                return Ok(());
            };
            ours.set_path(&path);
            theirs.set_path(&path);
            prop_assert_eq!(parts(&ours), url_parts(&theirs));
            ours.set_query(query.as_deref());
            theirs.set_query(query.as_deref());
            prop_assert_eq!(parts(&ours), url_parts(&theirs));
            let ours_joined = ours.join(&path).ok().map(|u| parts(&u));
            let theirs_joined = theirs.join(&path).ok().map(|u| url_parts(&u));
            prop_assert_eq!(ours_joined, theirs_joined);
        }

        #[test]
        fn join_is_the_url_crates_join(input in input(), reference in prop_oneof![input(), text()]) {
            let (Ok(ours), Ok(theirs)) = (Url::parse(&input), url::Url::parse(&input)) else {
                return Ok(());
            };
            let ours_joined = ours.join(&reference).ok().map(|u| parts(&u));
            let theirs_joined = theirs.join(&reference).ok().map(|u| url_parts(&u));
            prop_assert_eq!(ours_joined, theirs_joined);
        }

        #[test]
        fn a_reference_joined_as_is_is_the_url_crates_join(input in input(), reference in text()) {
            let (Ok(ours), Ok(theirs)) = (Url::parse(&input), url::Url::parse(&input)) else {
                return Ok(());
            };
            if ours.joins_as_is(&reference) {
                let joined = theirs.join(&reference).unwrap();
                let origin = &ours.as_str()[..ours.path_start];
                prop_assert_eq!(joined.as_str(), format!("{origin}{reference}"));
            }
        }
    }

    #[test]
    fn references_joined_as_is() {
        let base = Url::parse("http://localhost:3000/a?b#c").unwrap();
        for (reference, as_is) in [
            ("/x/y/", true),
            ("/", true),
            ("/a//b", true),
            ("/x?y", false),
            ("/x#y", false),
            ("//other/x", false),
            ("/\\other", false),
            ("/./x", false),
            ("/x/%2e%2e", false),
            ("/é", false),
            ("/a b", false),
            ("/\tx", false),
            ("x", false),
            ("", false),
        ] {
            assert_eq!(base.joins_as_is(reference), as_is, "{reference:?}");
            if as_is {
                assert_eq!(
                    base.join(reference).unwrap().as_str(),
                    format!("http://localhost:3000{reference}")
                );
            }
        }
        assert!(!Url::parse("mailto:x").unwrap().joins_as_is("/x"));
    }

    #[test]
    fn join_keeps_authority_references() {
        let base = Url::parse("http://localhost/a?b").unwrap();
        for rel in [
            "/x?y",
            "//other/x",
            "/\\other/x",
            "/\t/other/x",
            "/\n\\other",
            "/",
        ] {
            let theirs = url::Url::parse("http://localhost/a?b").unwrap().join(rel);
            assert_eq!(
                base.join(rel).ok().map(|u| parts(&u)),
                theirs.ok().map(|u| url_parts(&u)),
                "{rel:?}"
            );
        }
    }

    #[test]
    fn dot_segments_resolve_as_the_url_crate_does() {
        // Every path of up to five segments from these, with and without a query and fragment.
        let segments = ["", ".", "..", "a", "%2e", ".%2E", "%2e%2e", "%2e."];
        let mut paths = vec![String::new()];
        for _ in 0..5 {
            let longer: Vec<String> = paths
                .iter()
                .flat_map(|p| segments.iter().map(move |s| format!("{p}/{s}")))
                .collect();
            paths.extend(longer.into_iter().filter(|p| p.matches('/').count() <= 5));
            paths.sort();
            paths.dedup();
        }
        assert!(paths.len() > 37_000);
        for p in &paths {
            for tail in ["", "?q=.#..", "#/.."] {
                let u = format!("http://Host:81{p}{tail}");
                let ours = Url::parse(&u).map(|u| parts(&u)).ok();
                let theirs = url::Url::parse(&u).map(|u| url_parts(&u)).ok();
                assert_eq!(ours, theirs, "{u}");
            }
        }
    }

    #[test]
    fn fast_path_is_taken_for_plain_urls() {
        for u in [
            "http://localhost/blog/first?a=1&b=2",
            "https://example.com:8443/a/b.rsc#x",
            "http://localhost",
            "http://localhost:80/x",
            "http://FR.example.test/a",
            "http://localhost?x=1#y",
            "http://Localhost:8080#y",
            "http://a.b/.x/..y/...?q=%2e#f",
            // `.` and `..` segments, resolved here.
            "http://localhost/a/../b",
            "http://localhost/.",
            "http://localhost/a/..",
            "http://localhost/..",
            "http://localhost//..?a=1",
            "http://localhost/a/./b/./",
            "http://localhost/a/b/../../../c/.?q#f",
            "http://Localhost:8080/x/..#y",
            "http://localhost/%2e%2e/b",
            "http://localhost/a/%2E/",
            "http://localhost/a/.%2e?x",
            "http://localhost/a/%2e%2E/%2ex/x%2e",
        ] {
            assert!(fast_parse(u).is_some(), "{u}");
            let full = url::Url::parse(u).unwrap();
            assert_eq!(parts(&Url::parse(u).unwrap()), url_parts(&full), "{u}");
            assert_eq!(
                parts(&Url::parse_owned(u.into()).unwrap()),
                url_parts(&full),
                "{u}"
            );
        }
        for u in [
            "http://127.0.0.1/",
            "http://localhost/a b",
            "http://localhost/é",
            "http://localhost/a/\\b",
            "http://localhost:080/",
            "http://u@localhost/",
            "http://xn--nxasmq6b.com/",
            "http://a.0x1f/",
        ] {
            assert!(fast_parse(u).is_none(), "{u}");
        }
    }
}
