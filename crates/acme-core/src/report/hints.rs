//! Static scan of the app's compiled server chunks (`<distDir>/server/**/*.js`, never
//! `node_modules`): `process.env` names, external `fetch` origins, and the markers that tell
//! `after()` use and proxy from middleware.
//!
//! What is recognized, as Turbopack (minified) and webpack/dev builds emit it:
//! - `process.env.X`, `process.env["X"]`, `process.env['X']` (Turbopack's minifier rewrites the
//!   bracket forms to the dot form) and destructuring `{X, Y: y} = process.env`;
//! - `fetch("https://host/…")` with a string or template literal whose origin is literal;
//! - `(0,x.after)(…)`: how a call to an imported `after` compiles;
//!   `` `after` was called outside a request scope``: the body of Next's `after`;
//! - the middleware template's page constant: `…="/proxy",x=y.proxy||y.default` for `proxy.ts`,
//!   `="/middleware"` … `.middleware||` for `middleware.ts`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use aho_corasick::AhoCorasick;
use serde::Serialize;

const PATTERNS: [&str; 5] = [
    "process.env",
    "fetch(",
    ".after)(",
    "`after` was called outside a request scope",
    "||",
];
const P_ENV: usize = 0;
const P_FETCH: usize = 1;
const P_AFTER_CALL: usize = 2;
const P_AFTER_MODULE: usize = 3;
const P_OR: usize = 4;

fn matcher() -> Option<&'static AhoCorasick> {
    static AC: OnceLock<Option<AhoCorasick>> = OnceLock::new();
    AC.get_or_init(|| AhoCorasick::new(PATTERNS).ok()).as_ref()
}

/// What one file contains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileFacts {
    /// `process.env` names read.
    pub env: BTreeSet<String>,
    /// Origins (`scheme://host[:port]`) passed literally to `fetch`.
    pub fetch_origins: BTreeSet<String>,
    /// Calls an imported `after`.
    pub after_call: bool,
    /// Contains Next's `after` implementation.
    pub after_module: bool,
    /// Contains the proxy template's entry (`proxy.ts`).
    pub proxy_entry: bool,
    /// Contains the middleware template's entry (`middleware.ts`).
    pub middleware_entry: bool,
}

impl FileFacts {
    /// Merges another file's facts in.
    pub fn merge(&mut self, other: FileFacts) {
        self.env.extend(other.env);
        self.fetch_origins.extend(other.fetch_origins);
        self.after_call |= other.after_call;
        self.after_module |= other.after_module;
        self.proxy_entry |= other.proxy_entry;
        self.middleware_entry |= other.middleware_entry;
    }
}

/// Scans one compiled JavaScript file.
pub fn scan(code: &[u8]) -> FileFacts {
    let mut facts = FileFacts::default();
    let Some(ac) = matcher() else {
        return facts;
    };
    for m in ac.find_iter(code) {
        match m.pattern().as_usize() {
            P_ENV => {
                if m.start() > 0 && is_ident(code[m.start() - 1]) {
                    continue;
                }
                env_after(code, m.end(), &mut facts.env);
                env_destructured(code, m.start(), &mut facts.env);
            }
            P_FETCH => {
                if m.start() > 0 && is_ident(code[m.start() - 1]) {
                    continue;
                }
                if let Some(origin) = literal_origin(code, m.end()) {
                    facts.fetch_origins.insert(origin);
                }
            }
            P_AFTER_CALL => facts.after_call = true,
            P_AFTER_MODULE => facts.after_module = true,
            P_OR => {
                let before = &code[m.start().saturating_sub(120)..m.start()];
                if before.ends_with(b".proxy")
                    && contains_page_const(before, &["/proxy", "/src/proxy"])
                {
                    facts.proxy_entry = true;
                } else if before.ends_with(b".middleware")
                    && contains_page_const(before, &["/middleware", "/src/middleware"])
                {
                    facts.middleware_entry = true;
                }
            }
            _ => {}
        }
    }
    facts
}

fn contains_page_const(window: &[u8], pages: &[&str]) -> bool {
    pages.iter().any(|p| {
        [
            format!("\"{p}\","),
            format!("'{p}',"),
            format!("\"{p}\";"),
            format!("'{p}';"),
        ]
        .iter()
        .any(|needle| window.windows(needle.len()).any(|w| w == needle.as_bytes()))
    })
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

fn skip_ws(code: &[u8], mut i: usize) -> usize {
    while i < code.len() && code[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

fn ident_at(code: &[u8], i: usize) -> Option<&str> {
    let start = i;
    let mut end = i;
    while end < code.len() && is_ident(code[end]) {
        end += 1;
    }
    if end == start || code[start].is_ascii_digit() {
        return None;
    }
    std::str::from_utf8(&code[start..end]).ok()
}

/// `.X` or `["X"]` right after `process.env`.
fn env_after(code: &[u8], end: usize, out: &mut BTreeSet<String>) {
    let i = skip_ws(code, end);
    match code.get(i) {
        Some(b'.') => {
            if let Some(name) = ident_at(code, skip_ws(code, i + 1)) {
                out.insert(name.to_string());
            }
        }
        Some(b'[') => {
            let j = skip_ws(code, i + 1);
            let Some(&quote) = code.get(j) else { return };
            if !matches!(quote, b'"' | b'\'' | b'`') {
                return;
            }
            if let Some(name) = ident_at(code, j + 1) {
                if code.get(j + 1 + name.len()) == Some(&quote) {
                    out.insert(name.to_string());
                }
            }
        }
        _ => {}
    }
}

/// `{A, B: b, C = 1, ...rest} = process.env` right before `process.env`.
fn env_destructured(code: &[u8], start: usize, out: &mut BTreeSet<String>) {
    let mut i = start;
    while i > 0 && code[i - 1].is_ascii_whitespace() {
        i -= 1;
    }
    if i == 0 || code[i - 1] != b'=' || (i >= 2 && matches!(code[i - 2], b'=' | b'!' | b'<' | b'>'))
    {
        return;
    }
    i -= 1;
    while i > 0 && code[i - 1].is_ascii_whitespace() {
        i -= 1;
    }
    if i == 0 || code[i - 1] != b'}' {
        return;
    }
    let close = i - 1;
    let floor = close.saturating_sub(4096);
    let Some(open) = (floor..close).rev().find(|&k| code[k] == b'{') else {
        return;
    };
    let inner = &code[open + 1..close];
    if inner.contains(&b'{') || inner.contains(&b'}') {
        return;
    }
    for item in inner.split(|&b| b == b',') {
        let k = skip_ws(item, 0);
        if item[k..].starts_with(b"...") {
            continue;
        }
        if let Some(name) = ident_at(item, k) {
            out.insert(name.to_string());
        }
    }
}

/// The origin of a `"http(s)://host…"` literal starting at `i` (after optional whitespace).
fn literal_origin(code: &[u8], i: usize) -> Option<String> {
    let i = skip_ws(code, i);
    let quote = *code.get(i)?;
    if !matches!(quote, b'"' | b'\'' | b'`') {
        return None;
    }
    let rest = &code[i + 1..code.len().min(i + 1 + 300)];
    let scheme_len = if rest.starts_with(b"https://") {
        8
    } else if rest.starts_with(b"http://") {
        7
    } else {
        return None;
    };
    let host_end = rest[scheme_len..]
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'_')))
        .map_or(rest.len(), |p| p + scheme_len);
    if host_end == scheme_len {
        return None;
    }
    // `${` in the host means the origin is not literal.
    match rest.get(host_end) {
        Some(b'/' | b'?' | b'#') => {}
        Some(&c) if c == quote => {}
        _ => return None,
    }
    let origin = std::str::from_utf8(&rest[..host_end]).ok()?;
    Some(origin.to_ascii_lowercase())
}

/// Whether a `process.env` name belongs to Next, Turbopack, Node or the hosting platform rather
/// than to the app: `NODE_ENV`, `NEXT_RUNTIME`, `NEXT_*`, `__NEXT_*`, `TURBOPACK*`, `VERCEL*`,
/// `PORT`, `HOSTNAME`, … (Next reads them from its own bundled code, which shares chunks with
/// the app's code; a name is all the scan has to tell them apart).
pub fn is_internal_env(name: &str) -> bool {
    const EXACT: [&str; 8] = [
        "NODE_ENV",
        "NEXT_RUNTIME",
        "PORT",
        "HOSTNAME",
        "TURBOPACK",
        "NODE_OPTIONS",
        "CI",
        "KEEP_ALIVE_TIMEOUT",
    ];
    const PREFIXES: [&str; 6] = [
        "NEXT_",
        "__NEXT",
        "TURBOPACK_",
        "__TURBOPACK",
        "VERCEL",
        "__VERCEL",
    ];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Binding hints: what the deployment must provide.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BindingHints {
    /// Environment variables the app's own code reads, each with the files that read it.
    pub env: BTreeMap<String, Vec<String>>,
    /// Names Next, Turbopack or the platform read (set by the runtime or optional).
    pub internal_env: Vec<String>,
    /// External origins the server code fetches literally: egress to allow, secrets to bind.
    pub fetch_origins: BTreeMap<String, Vec<String>>,
}

impl BindingHints {
    /// Builds the hints from per-file facts (`file` relative to the repository root).
    pub fn from_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a FileFacts)>) -> Self {
        let mut hints = BindingHints::default();
        let mut internal = BTreeSet::new();
        for (file, facts) in files {
            for name in &facts.env {
                if is_internal_env(name) {
                    internal.insert(name.clone());
                } else {
                    hints
                        .env
                        .entry(name.clone())
                        .or_default()
                        .push(file.to_string());
                }
            }
            for origin in &facts.fetch_origins {
                hints
                    .fetch_origins
                    .entry(origin.clone())
                    .or_default()
                    .push(file.to_string());
            }
        }
        for files in hints
            .env
            .values_mut()
            .chain(hints.fetch_origins.values_mut())
        {
            files.sort();
            files.dedup();
        }
        hints.internal_env = internal.into_iter().collect();
        hints
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(code: &str) -> Vec<String> {
        scan(code.as_bytes()).env.into_iter().collect()
    }

    #[test]
    fn env_names_in_every_form() {
        assert_eq!(
            env(r#"a=process.env.ACME_A??"x";b=process.env["ACME_B"];c=process.env[ 'ACME_C' ];"#),
            ["ACME_A", "ACME_B", "ACME_C"]
        );
        assert_eq!(
            env("let{ACME_D:r, ACME_E = 1, ...rest}=process.env;"),
            ["ACME_D", "ACME_E"]
        );
        assert_eq!(env("const { ACME_F } = process.env"), ["ACME_F"]);
        // Dynamic access, comparisons and look-alikes are not names.
        assert!(env("x=process.env[k];y=myprocess.env.NOPE;z={a}==process.env").is_empty());
        assert!(env("x=process.env;").is_empty());
    }

    #[test]
    fn fetch_origins_of_literals_only() {
        let f = scan(
            br#"fetch("https://API.example.com/v1/x");fetch(`https://tpl.example.org/x/${m}`);
                fetch(`https://${host}/x`);fetch(url);prefetch("https://no.example");
                fetch( 'http://localhost:8080' )"#,
        );
        assert_eq!(
            f.fetch_origins.into_iter().collect::<Vec<_>>(),
            [
                "http://localhost:8080",
                "https://api.example.com",
                "https://tpl.example.org"
            ]
        );
    }

    #[test]
    fn after_signals() {
        let call = scan(b"async function r(e){(0,t.after)(()=>console.log(1))}");
        assert!(call.after_call && !call.after_module);
        let module =
            scan(b"throw Error(\"`after` was called outside a request scope. Read more\")");
        assert!(module.after_module && !module.after_call);
        assert!(!scan(b"e.afterContext.after(t,r)").after_call);
    }

    #[test]
    fn proxy_and_middleware_entries() {
        let p = scan(br#"let rC={...e.i(39040)},rO="/proxy",rA=rC.proxy||rC.default;"#);
        assert!(p.proxy_entry && !p.middleware_entry);
        let m = scan(br#"let r$={...e.i(24975)},rq="/middleware",rB=r$.middleware||r$.default;"#);
        assert!(m.middleware_entry && !m.proxy_entry);
        // The shared adapter code compares against both names: not an entry.
        let shared =
            scan(br#"A="/middleware"===c||"/src/middleware"===c||"/proxy"===c||"/src/proxy"===c"#);
        assert!(!shared.proxy_entry && !shared.middleware_entry);
    }

    #[test]
    fn internal_names() {
        for n in [
            "NODE_ENV",
            "NEXT_RUNTIME",
            "__NEXT_BUILD_ID",
            "NEXT_PRIVATE_DEBUG_CACHE",
            "TURBOPACK",
            "VERCEL_URL",
            "PORT",
        ] {
            assert!(is_internal_env(n), "{n}");
        }
        for n in ["ACME_FIXTURE_GREETING", "DATABASE_URL", "STRIPE_KEY"] {
            assert!(!is_internal_env(n), "{n}");
        }
    }

    #[test]
    fn hints_split_user_and_internal_names() {
        let a =
            scan(b"process.env.DATABASE_URL;process.env.NODE_ENV;fetch('https://x.example.com/')");
        let b = scan(b"process.env.DATABASE_URL;process.env.__NEXT_BUILD_ID");
        let h = BindingHints::from_files([("b.js", &b), ("a.js", &a)]);
        assert_eq!(h.env["DATABASE_URL"], ["a.js", "b.js"]);
        assert_eq!(h.internal_env, ["NODE_ENV", "__NEXT_BUILD_ID"]);
        assert_eq!(h.fetch_origins["https://x.example.com"], ["a.js"]);
    }
}
