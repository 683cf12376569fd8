//! The CLI's global allocator: mimalloc, asked for plain blocks where the alignment allows.
//!
//! The `mimalloc` crate's allocator passes every request to `mi_malloc_aligned`, whose fast
//! path checks the alignment before it takes a block. mimalloc's blocks are always aligned to
//! the machine word (its size classes are multiples of it), so requests that need no more —
//! nearly all of a trace's strings and lists — go to `mi_malloc` and `mi_realloc` directly;
//! the rest still go through the aligned calls.
//!
//! In front of mimalloc, each thread keeps the last small blocks it freed, a few of each size,
//! and gives them out again first, newest first ([`Recent`]). A trace allocates and frees
//! some hundred small strings and lists. mimalloc would hand out the other free blocks of
//! their pages first; after loading these are many and long untouched, so each would be a
//! trip to memory. A block just freed is still in the caches.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::ffi::c_void;

/// mimalloc's guaranteed alignment for any block: `MI_INTPTR_SIZE`, the word.
const WORD: usize = std::mem::size_of::<usize>();

pub struct Allocator;

/// Blocks of up to this many words are kept when freed.
const CLASSES: usize = 32;
/// At most this many blocks of each size are kept; the others go back to mimalloc.
const KEEP: u16 = 32;

/// A thread's recently freed small blocks: for each size in words (1 to [`CLASSES`]), a stack
/// linked through the blocks' first word, and its depth. A block kept for `n` words holds at
/// least `n`: it was asked of mimalloc for a layout of that many words (rounded up), and
/// mimalloc's block sizes are whole words. Blocks aligned beyond the word are never kept.
///
/// The thread-local has no destructor, so that reaching it costs one load: a thread that
/// ends gives its blocks back with [`release_thread_blocks`] (the CLI's threads do); those of
/// a thread that does not stay allocated until the process ends (at most
/// `CLASSES * KEEP` blocks of up to 256 bytes, 256 KiB).
struct Recent {
    top: [*mut u8; CLASSES + 1],
    count: [u16; CLASSES + 1],
}

thread_local! {
    static RECENT: UnsafeCell<Recent> = const {
        UnsafeCell::new(Recent {
            top: [std::ptr::null_mut(); CLASSES + 1],
            count: [0; CLASSES + 1],
        })
    };
}

/// The size in words of a block for `layout`, where such blocks are kept.
#[inline]
fn class(layout: Layout) -> Option<usize> {
    (layout.align() <= WORD && layout.size() <= CLASSES * WORD)
        .then(|| layout.size().div_ceil(WORD).max(1))
}

/// Takes a kept block of `class` words, or null.
#[inline]
fn take(class: usize) -> *mut u8 {
    RECENT.with(|r| {
        // SAFETY: the thread's own `Recent`, borrowed only within this call, which neither
        // allocates nor calls anything that could reach it.
        let r = unsafe { &mut *r.get() };
        let block = r.top[class];
        if !block.is_null() {
            // SAFETY: a kept block is a live mimalloc block of at least a word, aligned to
            // it, whose first word holds the next kept block.
            r.top[class] = unsafe { *(block as *mut *mut u8) };
            r.count[class] -= 1;
        }
        block
    })
}

/// Keeps `block` if there is room; false when it must go back to mimalloc.
///
/// # Safety
/// `block` is a mimalloc block of at least `class` words, aligned to the word, that nothing
/// uses any more.
#[inline]
unsafe fn keep(block: *mut u8, class: usize) -> bool {
    RECENT.with(|r| {
        // SAFETY: as in `take`.
        let r = unsafe { &mut *r.get() };
        if r.count[class] >= KEEP {
            return false;
        }
        // SAFETY: the caller gives the block up; it is at least a word long and aligned.
        unsafe { *(block as *mut *mut u8) = r.top[class] };
        r.top[class] = block;
        r.count[class] += 1;
        true
    })
}

/// Gives the blocks this thread keeps back to mimalloc. A thread that ends calls it last.
pub fn release_thread_blocks() {
    for class in 1..=CLASSES {
        loop {
            let block = take(class);
            if block.is_null() {
                break;
            }
            // SAFETY: a kept block is a live mimalloc block that nothing else holds.
            unsafe { libmimalloc_sys::mi_free(block as *mut c_void) };
        }
    }
}

// SAFETY: every block comes from mimalloc, aligned as the layout asks (a plain block is
// word-aligned, which covers any alignment up to the word; larger ones use the aligned calls),
// and is freed or resized by mimalloc, which accepts blocks from either kind of call.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if let Some(class) = class(layout) {
            let kept = take(class);
            if !kept.is_null() {
                return kept;
            }
            // SAFETY: any size does; whole words, so that the block can be kept later.
            return unsafe { libmimalloc_sys::mi_malloc(class * WORD) as *mut u8 };
        }
        // SAFETY: mimalloc's allocation functions accept any size and alignment.
        unsafe {
            if layout.align() <= WORD {
                libmimalloc_sys::mi_malloc(layout.size()) as *mut u8
            } else {
                libmimalloc_sys::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        unsafe {
            if layout.align() <= WORD {
                libmimalloc_sys::mi_zalloc(layout.size()) as *mut u8
            } else {
                libmimalloc_sys::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator with `layout`: a mimalloc block of at least
        // `class` words (whole words, word-aligned), which the caller no longer uses.
        if class(layout).is_some_and(|class| unsafe { keep(ptr, class) }) {
            return;
        }
        // SAFETY: `ptr` came from this allocator, hence from mimalloc.
        unsafe { libmimalloc_sys::mi_free(ptr as *mut c_void) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout`; mimalloc keeps the alignment
        // it is given.
        unsafe {
            if layout.align() <= WORD {
                libmimalloc_sys::mi_realloc(ptr as *mut c_void, new_size) as *mut u8
            } else {
                libmimalloc_sys::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align())
                    as *mut u8
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_as_asked_and_keep_their_bytes() {
        let a = Allocator;
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for size in [1, 3, 8, 13, 24, 40, 100, 1000, 70_000] {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: a non-zero size; the block is written within its size, resized with
                // the same layout and freed once.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    std::ptr::write_bytes(p, 0xab, size);
                    let q = a.realloc(p, layout, size * 3);
                    assert_eq!(q as usize % align, 0, "realloc: size {size} align {align}");
                    assert!((0..size).all(|i| *q.add(i) == 0xab));
                    a.dealloc(q, Layout::from_size_align(size * 3, align).unwrap());
                    let z = a.alloc_zeroed(layout);
                    assert_eq!(z as usize % align, 0);
                    assert!((0..size).all(|i| *z.add(i) == 0));
                    a.dealloc(z, layout);
                }
            }
        }
    }

    /// How many blocks of `class` words this thread keeps.
    fn kept(class: usize) -> u16 {
        // SAFETY: read within the call, which does not allocate.
        RECENT.with(|r| unsafe { (*r.get()).count[class] })
    }

    #[test]
    fn a_small_block_freed_is_the_next_one_given() {
        let a = Allocator;
        let forty = Layout::from_size_align(40, 8).unwrap();
        let odd = Layout::from_size_align(33, 1).unwrap();
        // SAFETY: blocks used within their size and freed once.
        unsafe {
            let p = a.alloc(forty);
            a.dealloc(p, forty);
            let q = a.alloc(forty);
            assert_eq!(p, q, "the block just freed comes back first");
            a.dealloc(q, forty);
            // 33 bytes take five words, as 40 do.
            let r = a.alloc(odd);
            assert_eq!(q, r);
            a.dealloc(r, odd);
            // Larger sizes and alignments are mimalloc's alone.
            let big = Layout::from_size_align(CLASSES * WORD + 1, 8).unwrap();
            let b = a.alloc(big);
            a.dealloc(b, big);
            let wide = Layout::from_size_align(32, 32).unwrap();
            let w = a.alloc(wide);
            assert_eq!(w as usize % 32, 0);
            a.dealloc(w, wide);
        }
        assert_eq!(kept(5), 1);
        assert_eq!(kept(4), 0, "a 32-byte block aligned to 32 is not kept");
        release_thread_blocks();
        assert_eq!(kept(5), 0);
    }

    #[test]
    fn at_most_keep_blocks_of_a_size_are_kept_and_released() {
        let a = Allocator;
        let layout = Layout::from_size_align(16, 8).unwrap();
        let blocks: Vec<*mut u8> = (0..KEEP as usize + 8)
            // SAFETY: a non-zero size.
            .map(|_| unsafe { a.alloc(layout) })
            .collect();
        for &b in &blocks {
            // SAFETY: each block freed once, with its layout.
            unsafe { a.dealloc(b, layout) };
        }
        assert_eq!(kept(2), KEEP);
        release_thread_blocks();
        assert_eq!(kept(2), 0);
    }

    #[test]
    fn blocks_freed_on_another_thread_are_kept_there() {
        let layout = Layout::from_size_align(24, 8).unwrap();
        let blocks: Vec<usize> = (0..100u8)
            .map(|i| {
                // SAFETY: each block is written within its size.
                unsafe {
                    let p = Allocator.alloc(layout);
                    std::ptr::write_bytes(p, i, 24);
                    p as usize
                }
            })
            .collect();
        std::thread::spawn(move || {
            for (i, &b) in blocks.iter().enumerate() {
                let p = b as *mut u8;
                // SAFETY: a live block of 24 bytes, freed once.
                unsafe {
                    assert!((0..24).all(|k| *p.add(k) == i as u8));
                    Allocator.dealloc(p, layout);
                }
            }
            assert_eq!(kept(3), KEEP);
            release_thread_blocks();
            assert_eq!(kept(3), 0);
        })
        .join()
        .unwrap();
    }

    /// One step of [`blocks_never_overlap`]: allocate, free or resize.
    #[derive(Debug, Clone)]
    enum Op {
        Alloc {
            size: usize,
            align: usize,
            zeroed: bool,
        },
        Free(usize),
        Realloc(usize, usize),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            (1usize..400, 0u32..6, any::<bool>()).prop_map(|(size, a, zeroed)| Op::Alloc {
                size,
                align: 1 << a,
                zeroed
            }),
            any::<usize>().prop_map(Op::Free),
            (any::<usize>(), 1usize..400).prop_map(|(i, n)| Op::Realloc(i, n)),
        ]
    }

    /// True when the `len` bytes at `p` all hold `fill`.
    ///
    /// # Safety
    /// `p` is readable for `len` bytes.
    unsafe fn holds(p: *mut u8, len: usize, fill: u8) -> bool {
        // SAFETY: the caller's promise.
        (0..len).all(|k| unsafe { *p.add(k) } == fill)
    }

    proptest::proptest! {
        /// Whatever the order of allocations, frees and resizes, each live block keeps the
        /// bytes written to it: no block is given twice or is smaller than asked.
        #[test]
        fn blocks_never_overlap(ops in proptest::collection::vec(op(), 1..200)) {
            let a = Allocator;
            // (block, layout, the byte it is filled with)
            let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
            for (n, op) in ops.into_iter().enumerate() {
                let fill = n as u8;
                // SAFETY: every block is used within its layout's size, resized and freed
                // with the layout it was given, and freed once.
                unsafe {
                    match op {
                        Op::Alloc { size, align, zeroed } => {
                            let l = Layout::from_size_align(size, align).unwrap();
                            let p = if zeroed { a.alloc_zeroed(l) } else { a.alloc(l) };
                            proptest::prop_assert!(!p.is_null());
                            proptest::prop_assert_eq!(p as usize % align, 0);
                            proptest::prop_assert!(!zeroed || holds(p, size, 0));
                            std::ptr::write_bytes(p, fill, size);
                            live.push((p, l, fill));
                        }
                        Op::Free(i) if !live.is_empty() => {
                            let (p, l, f) = live.swap_remove(i % live.len());
                            proptest::prop_assert!(holds(p, l.size(), f));
                            a.dealloc(p, l);
                        }
                        Op::Realloc(i, size) if !live.is_empty() => {
                            let i = i % live.len();
                            let (p, l, f) = live[i];
                            proptest::prop_assert!(holds(p, l.size(), f));
                            let q = a.realloc(p, l, size);
                            proptest::prop_assert_eq!(q as usize % l.align(), 0);
                            proptest::prop_assert!(holds(q, size.min(l.size()), f));
                            std::ptr::write_bytes(q, fill, size);
                            live[i] = (q, Layout::from_size_align(size, l.align()).unwrap(), fill);
                        }
                        _ => {}
                    }
                }
            }
            for (p, l, f) in live {
                // SAFETY: as above.
                unsafe {
                    proptest::prop_assert!(holds(p, l.size(), f));
                    a.dealloc(p, l);
                }
            }
            release_thread_blocks();
        }
    }
}
