//! Memory a long-running process keeps resident between bursts of work.
//!
//! Most of an idle master's resident set is code: the pages of the program and its libraries
//! that start-up, a burst of builds or a web page touched once, which the kernel then keeps
//! mapped (fault-around maps 64 KiB per fault). They are clean copies of the files, so the
//! process can let go of them and fault them back from the page cache when it runs that code
//! again, exactly as after the kernel reclaimed them under memory pressure. Freed heap is
//! returned with `malloc_trim`.

use std::future::Future;
use std::ops::Range;
use std::time::Duration;

/// `--release-memory-after` of the long-running commands.
#[derive(clap::Args)]
pub struct ReleaseArgs {
    /// Once started, and then every SECONDS (a master: when no build runs), give back the code
    /// pages and free heap the process's work touched; they come back from the page cache when
    /// needed (0: never; at most a day, as a timer much further away overflows).
    #[arg(long = "release-memory-after", value_name = "SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(0..=24 * 60 * 60))]
    seconds: u64,
}

/// Starts the release of `pages` on the current runtime, right away and then at each tick of
/// `args`' period when `idle` answers true; nothing when the period is 0 or the pages could not
/// be listed.
pub fn spawn_releases<F, Fut>(pages: std::io::Result<CodePages>, args: &ReleaseArgs, mut idle: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    let every = Duration::from_secs(args.seconds);
    let pages = match pages {
        Ok(_) if every.is_zero() => return,
        Ok(pages) => pages,
        Err(e) => {
            tracing::warn!("the code pages stay resident: /proc/self/smaps: {e}");
            return;
        }
    };
    tracing::debug!(
        bytes = pages.bytes(),
        ?every,
        "code mappings to release when idle"
    );
    tokio::spawn(async move {
        // The first tick is now: what start-up touched is not needed again.
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if idle().await {
                pages.release();
                tracing::debug!("idle: code pages and free heap released");
            }
        }
    });
}

/// The read-only file mappings of the process that hold no private page: dropping their pages
/// loses nothing, a later access reads them again from the file.
pub struct CodePages {
    ranges: Vec<Range<usize>>,
}

impl CodePages {
    /// The program's and its libraries' clean read-only mappings, read from `/proc/self/smaps`.
    /// Called before any thread starts, the mappings are the loader's, which stay until exit;
    /// files mapped later (analysed logs, the SQLite shared memory) are never touched.
    pub fn of_this_process() -> std::io::Result<CodePages> {
        let smaps = std::fs::read_to_string("/proc/self/smaps")?;
        Ok(CodePages {
            ranges: clean_read_only_mappings(&smaps),
        })
    }

    /// Drops the resident pages of these mappings and returns free heap to the system.
    pub fn release(&self) {
        for range in &self.ranges {
            // SAFETY: each range is a whole read-only mapping of a file, present since the
            // loader mapped it and never unmapped, without private (copied-on-write) pages, so
            // MADV_DONTNEED only drops copies that the next access reads again from the file.
            unsafe {
                libc::madvise(
                    range.start as *mut libc::c_void,
                    range.end - range.start,
                    libc::MADV_DONTNEED,
                );
            }
        }
        // SAFETY: malloc_trim has no precondition; it only gives free heap pages back.
        #[cfg(target_env = "gnu")]
        unsafe {
            libc::malloc_trim(0);
        }
    }

    /// How many bytes of address space the mappings cover.
    pub fn bytes(&self) -> usize {
        self.ranges.iter().map(|r| r.end - r.start).sum()
    }
}

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

/// The address ranges of `/proc/PID/smaps` mappings that are backed by a file, not writable,
/// and hold no anonymous page. The last rule keeps out the RELRO part of the program and of
/// every library: read-only now, but its pages were written by the loader's relocations.
pub fn clean_read_only_mappings(smaps: &str) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut current: Option<Range<usize>> = None;
    for line in smaps.lines() {
        if let Some(range) = mapping_header(line) {
            current = range;
        } else if let Some(kib) = line.strip_prefix("Anonymous:") {
            if let Some(range) = current.take() {
                if kib_value(kib) == Some(0) {
                    ranges.push(range);
                }
            }
        }
    }
    ranges
}

/// The number of a smaps field's value such as `  464 kB`.
fn kib_value(value: &str) -> Option<u64> {
    value.trim().trim_end_matches("kB").trim().parse().ok()
}

/// `Some(Some(range))` for the header line of a clean-candidate mapping, `Some(None)` for the
/// header of any other mapping, `None` for a field line.
fn mapping_header(line: &str) -> Option<Option<Range<usize>>> {
    let mut fields = line.split_ascii_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    let perms = fields.next()?;
    let (_offset, _device, _inode) = (fields.next()?, fields.next()?, fields.next()?);
    let path = fields.next().unwrap_or("");
    let read_only = perms.as_bytes().get(1) == Some(&b'-');
    Some((read_only && path.starts_with('/') && start < end).then_some(start..end))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
559ad83f3000-559ad876d000 r--p 00000000 fd:00 1234 /usr/bin/oebb
Size:               3560 kB
Rss:                1396 kB
Anonymous:             0 kB
559ad876d000-559ad910e000 r-xp 0037a000 fd:00 1234 /usr/bin/oebb
Size:              10116 kB
Anonymous:             0 kB
559ad910e000-559ad9182000 r--p 00d1b000 fd:00 1234 /usr/bin/oebb
Size:                464 kB
Anonymous:           464 kB
559ad9182000-559ad9190000 rw-p 00d8f000 fd:00 1234 /usr/bin/oebb
Anonymous:            12 kB
559b0c91b000-559b0c97e000 rw-p 00000000 00:00 0 [heap]
Anonymous:           304 kB
7f1ecb5e5000-7f1ecb73b000 r-xp 00026000 fd:00 99 /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
7f1ecb7a1000-7f1ecb7b1000 r--p 00000000 00:00 0
Anonymous:             0 kB
7ffd1c3f0000-7ffd1c3f2000 r-xp 00000000 00:00 0 [vdso]
Anonymous:             0 kB
7f1ecb900000-7f1ecb910000 r--s 00000000 fd:00 77 /old/oebb (deleted)
VmFlags: rd mr mw me
Anonymous:             0 kB
";

    #[test]
    fn keeps_clean_read_only_file_mappings_only() {
        assert_eq!(
            clean_read_only_mappings(SMAPS),
            vec![
                0x559ad83f3000..0x559ad876d000,
                0x559ad876d000..0x559ad910e000,
                0x7f1ecb5e5000..0x7f1ecb73b000,
                0x7f1ecb900000..0x7f1ecb910000,
            ]
        );
    }

    #[test]
    fn a_mapping_without_anonymous_field_is_not_kept() {
        let smaps = "7f00-7f10 r-xp 00000000 fd:00 1 /lib/x.so\nRss: 4 kB\n";
        assert!(clean_read_only_mappings(smaps).is_empty());
    }

    /// The test process itself: its code pages go, the threads running code and reading data
    /// through relocated pointers (trait objects, formatting) go on with the right results.
    #[test]
    fn releasing_the_code_pages_of_this_process_keeps_it_running() {
        let pages = CodePages::of_this_process().expect("/proc/self/smaps");
        assert!(pages.bytes() > 1 << 20, "{} bytes", pages.bytes());
        let resident_before = resident_kib(&pages);
        let worker = std::thread::spawn(|| {
            let mut sum = 0u64;
            for i in 0..200_000u64 {
                let shown: Box<dyn std::fmt::Display> = Box::new(i);
                sum += shown.to_string().len() as u64;
            }
            sum
        });
        for _ in 0..50 {
            pages.release();
        }
        let resident_after = resident_kib(&pages);
        assert_eq!(worker.join().expect("the thread ran"), 1_088_890);
        assert!(
            resident_after * 2 < resident_before,
            "resident code before {resident_before} KiB, after {resident_after} KiB"
        );
    }

    /// Resident KiB of the mappings in `pages`, from /proc/self/smaps.
    fn resident_kib(pages: &CodePages) -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
        let mut total = 0;
        let mut counted = false;
        for line in smaps.lines() {
            if let Some(header) = mapping_header(line) {
                counted = header.is_some_and(|r| pages.ranges.contains(&r));
            } else if let Some(kib) = line.strip_prefix("Rss:") {
                if counted {
                    total += kib_value(kib).expect("an Rss value in KiB");
                }
            }
        }
        total
    }
}
