//! Finding where a run of ordinary bytes in a URL ends: 16 bytes at a time on x86-64 (SSE2,
//! which every x86-64 CPU has), one at a time elsewhere and in texts shorter than 16 bytes.
//!
//! Every request URL's host, path and query are scanned for the bytes the WHATWG parser would
//! change or that end a part; a table lookup per byte was ~13% of a routed request's
//! instructions in the core. A window that would run past the end of the text is moved back to
//! end with it, its bytes before the scan's position ignored, so no byte outside the text is
//! read and short tails need no byte-by-byte loop.
#![allow(unsafe_code)]

/// Printable ASCII bytes (no space, no control, no DEL) but those of `except`.
pub(super) const fn printable_except(except: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut c = 0x21;
    while c <= 0x7e {
        t[c] = true;
        c += 1;
    }
    let mut i = 0;
    while i < except.len() {
        t[except[i] as usize] = false;
        i += 1;
    }
    t
}

/// The bytes that are not printable ASCII (`0x21..=0x7e`), and the printable ones of `also`.
pub(super) struct StopSet<const N: usize> {
    also: [u8; N],
    /// Every byte's answer, for the byte-by-byte scan.
    table: [bool; 256],
}

impl<const N: usize> StopSet<N> {
    /// The set of the bytes outside `0x21..=0x7e` and those of `also`.
    pub(super) const fn new(also: [u8; N]) -> Self {
        let kept = printable_except(&also);
        let mut table = [false; 256];
        let mut c = 0;
        while c < 256 {
            table[c] = !kept[c];
            c += 1;
        }
        Self { also, table }
    }

    /// Whether `c` is in the set.
    pub(super) fn contains(&self, c: u8) -> bool {
        self.table[usize::from(c)]
    }
}

/// The positions, from `from` on, of the bytes of `b` that are in `set`, in order.
#[inline]
pub(super) fn stops_in<'b, const N: usize>(
    b: &'b [u8],
    from: usize,
    set: &'b StopSet<N>,
) -> Stops<'b, impl Fn(&[u8; 16]) -> u32 + 'b, impl Fn(u8) -> bool + 'b> {
    Stops::new(
        b,
        from,
        move |w| simd::unprintable_or(w, &set.also),
        move |c| set.contains(c),
    )
}

/// The positions, from `from` on, of the bytes of `b` that are not a lower-case ASCII letter,
/// an ASCII digit or `-` (the bytes of a host's labels that need no change), in order.
#[inline]
pub(super) fn not_label_bytes(
    b: &[u8],
    from: usize,
) -> Stops<'_, impl Fn(&[u8; 16]) -> u32, impl Fn(u8) -> bool> {
    Stops::new(b, from, simd::not_label_byte, |c| {
        !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    })
}

/// The positions of the bytes a scan stops at. A window's mask, once computed, answers for all
/// the stops in its 16 bytes (a path's slashes, a host's dots), so a text's bytes are looked at
/// once however many stops it has.
pub(super) struct Stops<'b, W, S> {
    b: &'b [u8],
    /// Where the next window starts (or, byte by byte, the next byte).
    at: usize,
    /// Where the current window starts.
    base: usize,
    /// The stops of the current window not yet taken (bit `k`: its byte `k`).
    hits: u32,
    /// The mask of a window's stops.
    window: W,
    /// Whether a byte is a stop (texts shorter than a window, and targets without one).
    stop: S,
}

impl<'b, W: Fn(&[u8; 16]) -> u32, S: Fn(u8) -> bool> Stops<'b, W, S> {
    #[inline(always)]
    fn new(b: &'b [u8], from: usize, window: W, stop: S) -> Self {
        Self {
            b,
            at: from,
            base: 0,
            hits: 0,
            window,
            stop,
        }
    }
}

impl<W: Fn(&[u8; 16]) -> u32, S: Fn(u8) -> bool> Iterator for Stops<'_, W, S> {
    type Item = usize;

    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        let b = self.b;
        if simd::AVAILABLE && b.len() >= 16 {
            loop {
                if self.hits != 0 {
                    let k = self.hits.trailing_zeros() as usize;
                    self.hits &= self.hits - 1;
                    return Some(self.base + k);
                }
                if self.at >= b.len() {
                    return None;
                }
                // A window past the end is moved back to end with the text; its lanes before
                // `at` were scanned already (or precede `from`) and are dropped.
                let start = self.at.min(b.len() - 16);
                let w = b[start..].first_chunk::<16>()?;
                self.hits = (self.window)(w) & (u32::MAX << (self.at - start));
                self.base = start;
                self.at = start + 16;
            }
        }
        while self.at < b.len() {
            let i = self.at;
            self.at += 1;
            if (self.stop)(b[i]) {
                return Some(i);
            }
        }
        None
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8, _mm_loadu_si128,
        _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    /// SSE2 is part of x86-64 itself.
    pub(super) const AVAILABLE: bool = true;

    // SAFETY (every `unsafe` block below): the intrinsics need SSE2, which every x86-64 CPU has
    // and the x86-64 targets enable; the only load reads the 16 bytes of a `&[u8; 16]`, with
    // no alignment required.

    /// Bit mask of the bytes not in `0x21..=0x7e` or in `also`.
    #[inline(always)]
    pub(super) fn unprintable_or<const N: usize>(w: &[u8; 16], also: &[u8; N]) -> u32 {
        unsafe {
            let v = _mm_loadu_si128(w.as_ptr().cast());
            // Signed lanes: `0x80..=0xff` are negative, so below `0x21` as well.
            let mut m = _mm_or_si128(
                _mm_cmplt_epi8(v, splat(0x21)),
                _mm_cmpeq_epi8(v, splat(0x7f)),
            );
            for &c in also {
                m = _mm_or_si128(m, _mm_cmpeq_epi8(v, splat(c)));
            }
            mask(m)
        }
    }

    /// Bit mask of the bytes that are not `a..=z`, `0..=9` or `-`.
    #[inline(always)]
    pub(super) fn not_label_byte(w: &[u8; 16]) -> u32 {
        unsafe {
            let v = _mm_loadu_si128(w.as_ptr().cast());
            let between = |lo: u8, hi: u8| {
                _mm_and_si128(
                    _mm_cmpgt_epi8(v, splat(lo - 1)),
                    _mm_cmplt_epi8(v, splat(hi + 1)),
                )
            };
            let ok = _mm_or_si128(
                _mm_or_si128(between(b'a', b'z'), between(b'0', b'9')),
                _mm_cmpeq_epi8(v, splat(b'-')),
            );
            !mask(ok) & 0xffff
        }
    }

    /// The byte in every lane (as the signed value the comparisons take).
    #[inline(always)]
    fn splat(c: u8) -> __m128i {
        unsafe { _mm_set1_epi8(i8::from_ne_bytes([c])) }
    }

    /// The lanes' sign bits: 16 bits, never negative.
    #[inline(always)]
    fn mask(m: __m128i) -> u32 {
        unsafe { _mm_movemask_epi8(m) }.cast_unsigned()
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod simd {
    /// No vector scan here: the byte loop runs.
    pub(super) const AVAILABLE: bool = false;

    pub(super) fn unprintable_or<const N: usize>(_: &[u8; 16], _: &[u8; N]) -> u32 {
        0
    }

    pub(super) fn not_label_byte(_: &[u8; 16]) -> u32 {
        0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn scalar(b: &[u8], from: usize, stop: impl Fn(u8) -> bool) -> Vec<usize> {
        (from..b.len()).filter(|&i| stop(b[i])).collect()
    }

    const ALSO: &[u8; 10] = b"\"<>`{}\\?#/";
    const SET: StopSet<10> = StopSet::new(*ALSO);

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]
        /// Every length (short texts, windows moved back at the end), every start, and bytes of
        /// every kind (mostly ordinary ones, so that stops fall anywhere in a window).
        #[test]
        fn scans_find_what_a_byte_loop_finds(
            b in proptest::collection::vec(prop_oneof![8 => b'a'..=b'z', 2 => any::<u8>(), 1 => Just(b'/'), 1 => Just(b'.')], 0..70),
            from in 0usize..72,
        ) {
            prop_assert_eq!(
                stops_in(&b, from, &SET).collect::<Vec<_>>(),
                scalar(&b, from, |c| !(0x21..=0x7e).contains(&c) || ALSO.contains(&c))
            );
            prop_assert_eq!(
                not_label_bytes(&b, from).collect::<Vec<_>>(),
                scalar(&b, from, |c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-'))
            );
        }
    }

    #[test]
    fn every_byte_value_in_every_lane() {
        for lane in 0..16 {
            for c in 0..=255u8 {
                let mut b = [b'a'; 16];
                b[lane] = c;
                let unprintable = !(0x21..=0x7e).contains(&c) || ALSO.contains(&c);
                let only = |hit: bool| if hit { vec![lane] } else { vec![] };
                assert_eq!(stops_in(&b, 0, &SET).collect::<Vec<_>>(), only(unprintable));
                let label = c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-';
                assert_eq!(not_label_bytes(&b, 0).collect::<Vec<_>>(), only(!label));
            }
        }
    }
}
