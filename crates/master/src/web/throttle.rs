//! Password guessing is slowed down per user name: after a few wrong passwords in a row, the
//! next attempt for that name must wait, twice as long after each further failure, up to a
//! quarter of an hour. Attempts during the wait are refused without checking the password,
//! so they neither count nor tell anything. A right password clears the name's record.
//!
//! Keyed by the name, not the client address: behind the TLS proxy the master is meant to sit
//! behind, every client has the proxy's address. The price is that someone guessing can make a
//! real user wait too; the wait is bounded and the API token is not throttled.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong passwords in a row allowed without waiting.
pub const FREE_FAILURES: u32 = 5;
/// The longest wait between two attempts.
pub const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// A record without any attempt for this long is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
/// Records kept at most; beyond, the ones forgotten by age are dropped first, and if all are
/// recent, the new name is not recorded (its attempts cost a hash check each, as always).
const MAX_RECORDS: usize = 10_000;

/// Failures of one user name.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// The login throttle of a master: shared by the login form and the API's HTTP Basic.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, Failures>>,
}

impl LoginThrottle {
    /// `Err(wait)` when `user` must wait before the next attempt.
    pub fn check(&self, user: &str, now: Instant) -> Result<(), Duration> {
        let failures = self.failures.lock().expect("the throttle's lock");
        match failures.get(user) {
            Some(f) => match wait_after(f.count).checked_sub(now.duration_since(f.last)) {
                Some(left) if !left.is_zero() => Err(left),
                _ => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// Records a wrong password for `user`.
    pub fn failed(&self, user: &str, now: Instant) {
        let mut failures = self.failures.lock().expect("the throttle's lock");
        if failures.len() >= MAX_RECORDS && !failures.contains_key(user) {
            failures.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
            if failures.len() >= MAX_RECORDS {
                return;
            }
        }
        let entry = failures.entry(user.to_string()).or_insert(Failures {
            count: 0,
            last: now,
        });
        if now.duration_since(entry.last) >= FORGET_AFTER {
            entry.count = 0;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
    }

    /// Clears the record of `user` after a right password.
    pub fn succeeded(&self, user: &str) {
        self.failures
            .lock()
            .expect("the throttle's lock")
            .remove(user);
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
    fn the_free_failures_do_not_wait_then_the_wait_doubles_up_to_the_maximum() {
        let t = LoginThrottle::default();
        let start = Instant::now();
        for _ in 0..FREE_FAILURES - 1 {
            t.failed("admin", start);
            assert_eq!(t.check("admin", start), Ok(()));
        }
        t.failed("admin", start);
        assert_eq!(t.check("admin", start), Err(S));
        assert_eq!(t.check("admin", start + S), Ok(()));
        t.failed("admin", start + S);
        assert_eq!(t.check("admin", start + S), Err(2 * S));
        let mut now = start + S;
        for _ in 0..30 {
            now += MAX_WAIT;
            t.failed("admin", now);
        }
        assert_eq!(t.check("admin", now), Err(MAX_WAIT));
        assert_eq!(t.check("admin", now + MAX_WAIT / 3), Err(MAX_WAIT * 2 / 3));
    }

    #[test]
    fn names_are_throttled_apart_and_a_right_password_clears() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..FREE_FAILURES {
            t.failed("admin", now);
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
        for _ in 0..FREE_FAILURES + 3 {
            t.failed("admin", now);
        }
        let later = now + FORGET_AFTER;
        t.failed("admin", later);
        assert_eq!(t.check("admin", later), Ok(()));
    }

    #[test]
    fn the_records_are_bounded() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for i in 0..MAX_RECORDS {
            t.failed(&format!("user{i}"), now);
        }
        t.failed("one-more", now);
        assert_eq!(t.failures.lock().unwrap().len(), MAX_RECORDS);
        let later = now + FORGET_AFTER;
        t.failed("one-more", later);
        assert_eq!(t.failures.lock().unwrap().len(), 1);
    }
}
