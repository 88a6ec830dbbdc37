//! Heap a long-running process keeps between bursts of work.

/// Limits glibc to two heap arenas. By default every thread that allocates may get an arena of
/// its own (up to eight per core), each keeping its own partly used pages; the master's threads
/// mostly wait for the network and the store, and with two arenas 50 idle workers cost 0.5 MiB
/// less heap (`bench/master/run.py`) at the same latency and throughput. Call before the
/// threads start.
pub fn fewer_heap_arenas() {
    // SAFETY: mallopt only changes glibc's allocation policy; it is called before other threads
    // allocate.
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Has glibc map every allocation of 1 MiB or more on its own and unmap it when freed. By
/// default glibc raises that threshold to the size of the largest block freed so far (up to
/// 32 MiB): after the first password check, argon2's 19 MiB blocks came from the heap, where
/// small allocations made between two checks kept the freed blocks from being reused or given
/// back, and 200 clients sending wrong logins for four seconds grew the master to 450 MiB
/// although no more than two checks ran at once (65 MiB with the fixed threshold;
/// `crates/oebb/tests/login_memory.rs`). Call before the threads start.
pub fn map_large_allocations() {
    // SAFETY: as in `fewer_heap_arenas`: only glibc's policy changes, before other threads
    // allocate.
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
