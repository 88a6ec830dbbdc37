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
