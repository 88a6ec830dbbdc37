//! Password guessing is slowed down per user name: after a few attempts in a row that were not
//! the right password, the next attempt for that name must wait, twice as long after each
//! further one, up to a quarter of an hour. Attempts during the wait are refused without
//! checking the password, so they neither count nor tell anything. A right password clears the
//! name's record.
//!
//! An attempt is counted when it starts, before its password is checked (the check takes a
//! while and runs many at once): so guesses sent together are counted together, and the sixth
//! one is refused even while the first five are still being checked. The wait runs from the
//! last failure, when its check ended.
//!
//! Keyed by the name, not the client address: behind the TLS proxy the master is meant to sit
//! behind, every client has the proxy's address. The price is that someone guessing can make a
//! real user wait too; the wait is bounded and the API token is not throttled. Names are kept
//! as their SHA-256, so a record costs the same whatever name an attacker sends.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Attempts in a row allowed without waiting.
pub const FREE_FAILURES: u32 = 5;
/// The longest wait between two attempts.
pub const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// A record without any attempt for this long is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
/// Records kept at most; beyond, the ones forgotten by age are dropped first, and if all are
/// recent, the new name is not recorded (its attempts are still bounded by the number of
/// password checks that may run at once, see `passwords.rs`).
const MAX_RECORDS: usize = 10_000;

/// A user name as the throttle keeps it.
type NameKey = [u8; 32];

fn key(user: &str) -> NameKey {
    Sha256::digest(user.as_bytes()).into()
}

/// Attempts for one user name not (yet) known to be right.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// The login throttle of a master: shared by the login form and the API's HTTP Basic.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<NameKey, Failures>>,
}

impl LoginThrottle {
    /// `Err(wait)` when `user` must wait before the next attempt; counts nothing.
    pub fn check(&self, user: &str, now: Instant) -> Result<(), Duration> {
        let failures = self.failures.lock().expect("the throttle's lock");
        match failures.get(&key(user)) {
            Some(f) => wait_left(f, now),
            None => Ok(()),
        }
    }

    /// Counts an attempt for `user` that starts now, before its password is checked; or
    /// `Err(wait)`, counting nothing, when `user` must wait first. Checking and counting under
    /// one lock is what holds the limit when attempts come together.
    pub fn reserve(&self, user: &str, now: Instant) -> Result<(), Duration> {
        let mut failures = self.failures.lock().expect("the throttle's lock");
        let key = key(user);
        if let Some(f) = failures.get(&key) {
            wait_left(f, now)?;
        }
        if failures.len() >= MAX_RECORDS && !failures.contains_key(&key) {
            failures.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
            if failures.len() >= MAX_RECORDS {
                return Ok(());
            }
        }
        let entry = failures.entry(key).or_insert(Failures {
            count: 0,
            last: now,
        });
        if now.duration_since(entry.last) >= FORGET_AFTER {
            entry.count = 0;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
        Ok(())
    }

    /// Notes that the attempt `user` reserved was a wrong password, found `now`: the wait
    /// runs from the last failure, not from when its check started.
    pub fn failed(&self, user: &str, now: Instant) {
        let mut failures = self.failures.lock().expect("the throttle's lock");
        if let Some(f) = failures.get_mut(&key(user)) {
            f.last = f.last.max(now);
        }
    }

    /// Clears the record of `user` after a right password.
    pub fn succeeded(&self, user: &str) {
        self.failures
            .lock()
            .expect("the throttle's lock")
            .remove(&key(user));
    }
}

/// `Err` with the time left to wait after these failures, if any.
fn wait_left(failures: &Failures, now: Instant) -> Result<(), Duration> {
    match wait_after(failures.count).checked_sub(now.duration_since(failures.last)) {
        Some(left) if !left.is_zero() => Err(left),
        _ => Ok(()),
    }
}

/// The wait after `count` failures in a row: none for the free ones, then 1 s, 2 s, 4 s, …
fn wait_after(count: u32) -> Duration {
    if count < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (count - FREE_FAILURES).min(20);
    Duration::from_secs(1u64 << doublings).min(MAX_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn the_free_attempts_do_not_wait_then_the_wait_doubles_up_to_the_maximum() {
        let t = LoginThrottle::default();
        let start = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert_eq!(t.check("admin", start), Ok(()));
            assert_eq!(t.reserve("admin", start), Ok(()));
        }
        assert_eq!(t.check("admin", start), Err(S));
        assert_eq!(t.reserve("admin", start), Err(S), "refused, not counted");
        assert_eq!(t.check("admin", start + S), Ok(()));
        assert_eq!(t.reserve("admin", start + S), Ok(()));
        assert_eq!(t.check("admin", start + S), Err(2 * S));
        let mut now = start + S;
        for _ in 0..30 {
            now += MAX_WAIT;
            assert_eq!(t.reserve("admin", now), Ok(()));
        }
        assert_eq!(t.check("admin", now), Err(MAX_WAIT));
        assert_eq!(t.check("admin", now + MAX_WAIT / 3), Err(MAX_WAIT * 2 / 3));
    }

    #[test]
    fn attempts_are_counted_before_their_result_so_the_sixth_at_once_waits() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        let answers: Vec<_> = (0..30).map(|_| t.reserve("admin", now)).collect();
        assert!(answers[..5].iter().all(Result::is_ok), "{answers:?}");
        assert!(answers[5..].iter().all(|a| *a == Err(S)), "{answers:?}");
    }

    #[test]
    fn the_wait_runs_from_the_last_failure() {
        let t = LoginThrottle::default();
        let start = Instant::now();
        for _ in 0..FREE_FAILURES {
            t.reserve("admin", start).unwrap();
        }
        // The checks took three seconds.
        t.failed("admin", start + 3 * S);
        assert_eq!(t.check("admin", start + 3 * S), Err(S));
        t.failed("admin", start + 2 * S);
        assert_eq!(t.check("admin", start + 3 * S), Err(S), "never earlier");
        t.failed("unknown", start);
        assert_eq!(t.check("unknown", start), Ok(()), "failed() counts nothing");
    }

    #[test]
    fn names_are_throttled_apart_and_a_right_password_clears() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..FREE_FAILURES {
            t.reserve("admin", now).unwrap();
        }
        assert!(t.check("admin", now).is_err());
        assert_eq!(t.check("other", now), Ok(()));
        t.succeeded("admin");
        assert_eq!(t.check("admin", now), Ok(()));
    }

    #[test]
    fn failures_an_hour_old_are_forgotten() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..FREE_FAILURES {
            t.reserve("admin", now).unwrap();
        }
        let later = now + FORGET_AFTER;
        t.reserve("admin", later).unwrap();
        assert_eq!(t.check("admin", later), Ok(()));
    }

    #[test]
    fn the_records_are_bounded_and_cost_the_same_for_any_name() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        let long = "x".repeat(1000);
        for i in 0..MAX_RECORDS {
            t.reserve(&format!("{long}{i}"), now).unwrap();
        }
        t.reserve("one-more", now).unwrap();
        assert_eq!(t.failures.lock().unwrap().len(), MAX_RECORDS);
        let later = now + FORGET_AFTER;
        t.reserve("one-more", later).unwrap();
        assert_eq!(t.failures.lock().unwrap().len(), 1);
    }
}
