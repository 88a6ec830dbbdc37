//! Finding line ends in bulk.
//!
//! One `memchr` call per line costs more than the line's own analysis on short log lines;
//! here 64 bytes are compared at once into a bit mask, and line ends are read off its bits.

/// Calls `found` with the index of every `\n` in `hay`, in increasing order.
#[cfg(target_arch = "x86_64")]
pub fn for_each_newline(hay: &[u8], found: impl FnMut(usize)) {
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        unsafe { for_each_newline_avx2(hay, found) }
    } else {
        for_each_newline_sse2(hay, found)
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn for_each_newline_avx2(hay: &[u8], mut found: impl FnMut(usize)) {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8,
    };
    let mut base = 0;
    while base + 64 <= hay.len() {
        // SAFETY: the two unaligned 32-byte loads read hay[base..base + 64], in bounds; AVX2
        // is enabled for this function, whose callers check the CPU has it.
        let mut mask = unsafe {
            let nl = _mm256_set1_epi8(b'\n' as i8);
            let p = hay.as_ptr().add(base);
            let lo = _mm256_loadu_si256(p as *const __m256i);
            let hi = _mm256_loadu_si256(p.add(32) as *const __m256i);
            let lo = u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, nl)) as u32);
            let hi = u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, nl)) as u32);
            lo | hi << 32
        };
        while mask != 0 {
            found(base + mask.trailing_zeros() as usize);
            mask &= mask - 1;
        }
        base += 64;
    }
    for i in memchr::memchr_iter(b'\n', &hay[base..]) {
        found(base + i);
    }
}

#[cfg(target_arch = "x86_64")]
fn for_each_newline_sse2(hay: &[u8], mut found: impl FnMut(usize)) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let mut base = 0;
    while base + 64 <= hay.len() {
        // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics are always
        // available; the four unaligned 16-byte loads read hay[base..base + 64], in bounds.
        let mut mask = unsafe {
            let nl = _mm_set1_epi8(b'\n' as i8);
            let p = hay.as_ptr().add(base);
            let block = |off: usize| {
                let v = _mm_loadu_si128(p.add(off) as *const __m128i);
                u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl)) as u16)
            };
            block(0) | block(16) << 16 | block(32) << 32 | block(48) << 48
        };
        while mask != 0 {
            found(base + mask.trailing_zeros() as usize);
            mask &= mask - 1;
        }
        base += 64;
    }
    for i in memchr::memchr_iter(b'\n', &hay[base..]) {
        found(base + i);
    }
}

/// Calls `found` with the index of every `\n` in `hay`, in increasing order.
#[cfg(not(target_arch = "x86_64"))]
pub fn for_each_newline(hay: &[u8], mut found: impl FnMut(usize)) {
    for i in memchr::memchr_iter(b'\n', hay) {
        found(i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all(hay: &[u8]) -> Vec<usize> {
        let mut v = Vec::new();
        for_each_newline(hay, |i| v.push(i));
        v
    }

    #[test]
    fn finds_every_newline_across_blocks() {
        let mut hay = vec![b'x'; 300];
        for i in [0, 15, 16, 63, 64, 65, 127, 128, 200, 255, 256, 299] {
            hay[i] = b'\n';
        }
        assert_eq!(
            all(&hay),
            [0, 15, 16, 63, 64, 65, 127, 128, 200, 255, 256, 299]
        );
        assert_eq!(all(b""), Vec::<usize>::new());
        assert_eq!(all(&[b'\n'; 130]), (0..130).collect::<Vec<_>>());
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sse2_and_avx2_paths_agree() {
        let hay: Vec<u8> = (0..1000u32)
            .map(|i| {
                if i % 7 == 0 || i % 61 == 0 {
                    b'\n'
                } else {
                    b'a'
                }
            })
            .collect();
        let mut sse2 = Vec::new();
        for_each_newline_sse2(&hay, |i| sse2.push(i));
        assert_eq!(sse2, all(&hay));
        assert_eq!(sse2, memchr::memchr_iter(b'\n', &hay).collect::<Vec<_>>());
    }

    proptest! {
        #[test]
        fn same_as_memchr(hay in proptest::collection::vec(prop_oneof![Just(b'\n'), any::<u8>()], 0..400)) {
            let expected: Vec<usize> = memchr::memchr_iter(b'\n', &hay).collect();
            prop_assert_eq!(all(&hay), expected);
        }
    }
}
