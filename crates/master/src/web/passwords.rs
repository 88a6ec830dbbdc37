//! Checking web users' passwords at a bounded cost. An argon2 check is slow and takes the
//! hash's memory (19 MiB with `oebb passwd`'s parameters) on purpose, and anyone may send a
//! login, so:
//!
//! - at most a few checks run at once (one per core, and no more than fit in
//!   [`MEMORY_BUDGET`]); the others wait for their turn without holding any hash memory;
//! - at most [`MAX_WAITING`] attempts wait; beyond, an attempt is refused at once
//!   ([`PasswordCheck::Busy`]);
//! - the throttle counts an attempt before its check (see [`super::throttle`]);
//! - a name that is no user is checked against a decoy hash made with the users' own
//!   parameters, so it takes as long as a user's (no answer time tells which names exist) and
//!   no more memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use oebb_config::master_settings::User;
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::throttle::LoginThrottle;

/// Hash memory the running checks may take together, in KiB: with the parameters of
/// `oebb passwd` (19 MiB each) three checks at once.
pub const MEMORY_BUDGET: u32 = 64 * 1024;
/// Attempts that may wait for a running check to end.
pub const MAX_WAITING: usize = 32;

/// What a login attempt gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    /// The user's password.
    Right,
    /// Not the password, or no such user.
    Wrong,
    /// Too many attempts for this name in a row: retry after this long; the password was not
    /// checked.
    TooSoon(Duration),
    /// Too many attempts are waiting for their check already; the password was not checked.
    Busy,
}

/// A web user's hash and its fingerprint.
#[derive(Clone, Debug)]
struct Account {
    hash: String,
    fingerprint: String,
}

/// The algorithm, version and parameters of a hash.
type Model = (Algorithm, Version, Params);

/// The users of one configuration.
#[derive(Debug)]
struct Accounts {
    by_name: HashMap<String, Account>,
    /// A hash of a password nobody knows, with the users' parameters.
    decoy: String,
    /// The parameters of the decoy (the first user's).
    model: Option<Model>,
}

impl Accounts {
    fn new(users: &[User], decoy: String, model: Option<Model>) -> Accounts {
        let mut by_name = HashMap::new();
        for user in users {
            // The first line of a name wins, as everywhere else in the configuration.
            by_name.entry(user.name.clone()).or_insert_with(|| Account {
                fingerprint: fingerprint(&user.password),
                hash: user.password.clone(),
            });
        }
        Accounts {
            by_name,
            decoy,
            model,
        }
    }
}

/// The web users' passwords and the limits of checking them; one per master. The users
/// follow the configuration ([`Passwords::set_users`]); the limits' state and the throttle
/// stay.
#[derive(Debug)]
pub struct Passwords {
    accounts: RwLock<Arc<Accounts>>,
    /// Checks allowed to run at once now (the permits of `running`).
    running_limit: Mutex<usize>,
    /// One permit per check allowed to run.
    running: Arc<Semaphore>,
    /// One permit per attempt running or waiting.
    admitted: Arc<Semaphore>,
    throttle: LoginThrottle,
}

impl Passwords {
    /// The passwords of `users` (the `[users]` of `oebb.cfg`), checked at most one per core
    /// at once within [`MEMORY_BUDGET`]. Makes the decoy hash: one argon2 hash.
    pub fn new(users: &[User]) -> Passwords {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Passwords::with_limits(users, running_limit(users, cores), MAX_WAITING)
    }

    /// [`Passwords::new`] with `running` checks at once and `waiting` attempts waiting.
    pub fn with_limits(users: &[User], running: usize, waiting: usize) -> Passwords {
        let model = users.iter().find_map(|u| hash_params(&u.password));
        let accounts = Accounts::new(users, decoy_hash(model.clone()), model);
        Passwords {
            accounts: RwLock::new(Arc::new(accounts)),
            running_limit: Mutex::new(running),
            running: Arc::new(Semaphore::new(running)),
            admitted: Arc::new(Semaphore::new(running + waiting)),
            throttle: LoginThrottle::default(),
        }
    }

    /// Checks `password` for web user `user`, throttled per name; the hash check runs off the
    /// async threads once a running permit is free.
    pub async fn check(&self, user: &str, password: &str) -> PasswordCheck {
        let now = Instant::now();
        // A throttled name is told so even when many attempts are waiting.
        if let Err(wait) = self.throttle.check(user, now) {
            return PasswordCheck::TooSoon(wait);
        }
        let Ok(admitted) = self.admitted.clone().try_acquire_owned() else {
            return PasswordCheck::Busy;
        };
        if let Err(wait) = self.throttle.reserve(user, now) {
            return PasswordCheck::TooSoon(wait);
        }
        let running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let accounts = self.accounts();
        let account = accounts.by_name.get(user);
        let hash = account.map_or(&accounts.decoy, |a| &a.hash).clone();
        let right = verify(hash, password.to_string(), [admitted, running]).await;
        if right && account.is_some() {
            self.throttle.succeeded(user);
            PasswordCheck::Right
        } else {
            self.throttle.failed(user, Instant::now());
            PasswordCheck::Wrong
        }
    }

    /// The fingerprint of `user`'s hash, kept with each of its sessions: a session whose
    /// fingerprint is not the user's (any more) is refused.
    pub fn fingerprint(&self, user: &str) -> Option<String> {
        let accounts = self.accounts();
        accounts.by_name.get(user).map(|a| a.fingerprint.clone())
    }

    fn accounts(&self) -> Arc<Accounts> {
        self.accounts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the users by those of a new configuration: a removed user, or one with a new
    /// hash, no longer logs in, and the sessions of the old hash are refused. Checks running
    /// or waiting finish with the hash they took; the number of checks at once follows the
    /// new hashes' memory cost. A new decoy is made off the async threads when the users'
    /// parameters changed (the old one serves meanwhile).
    pub fn set_users(self: &Arc<Self>, users: &[User]) {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        self.resize(running_limit(users, cores));
        let model = users.iter().find_map(|u| hash_params(&u.password));
        let now = self.accounts();
        let same_model = now.model == model;
        let accounts = Accounts::new(users, now.decoy.clone(), model.clone());
        *self.accounts.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(accounts);
        if same_model {
            return;
        }
        let passwords = self.clone();
        tokio::task::spawn_blocking(move || {
            let decoy = decoy_hash(model.clone());
            let mut guard = passwords
                .accounts
                .write()
                .unwrap_or_else(|e| e.into_inner());
            // Only if no newer configuration came meanwhile.
            if guard.model == model {
                let by_name = guard.by_name.clone();
                *guard = Arc::new(Accounts {
                    by_name,
                    decoy,
                    model,
                });
            }
        });
    }

    /// Makes `limit` checks run at once (and as many more attempts wait as before): permits
    /// are added at once, or taken away as soon as running checks give them back.
    fn resize(&self, limit: usize) {
        let mut now = self.running_limit.lock().unwrap_or_else(|e| e.into_inner());
        if limit > *now {
            self.running.add_permits(limit - *now);
            self.admitted.add_permits(limit - *now);
        } else if limit < *now {
            for semaphore in [&self.running, &self.admitted] {
                let fewer = *now - limit;
                let rest = fewer - semaphore.forget_permits(fewer);
                if rest > 0 {
                    let semaphore = semaphore.clone();
                    tokio::spawn(async move {
                        if let Ok(permits) = semaphore.acquire_many_owned(rest as u32).await {
                            permits.forget();
                        }
                    });
                }
            }
        }
        *now = limit;
    }
}

/// How many checks may run at once on `cores` cores: one per core, as many as fit in
/// [`MEMORY_BUDGET`] with the largest memory cost of `users`' hashes, at least one.
fn running_limit(users: &[User], cores: usize) -> usize {
    let largest = users
        .iter()
        .filter_map(|u| hash_params(&u.password))
        .map(|(_, _, params)| params.m_cost())
        .max()
        .unwrap_or(Params::DEFAULT_M_COST);
    let fit = usize::try_from(MEMORY_BUDGET / largest.max(1)).unwrap_or(1);
    cores.min(fit).max(1)
}

/// Whether `password` matches `hash`, checked on a blocking thread that holds `permits` until
/// the check ends, even when the request that asked has gone away meanwhile: so the permits
/// bound the checks really running.
async fn verify(hash: String, password: String, permits: [OwnedSemaphorePermit; 2]) -> bool {
    tokio::task::spawn_blocking(move || {
        let _permits = permits;
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// The algorithm, version and parameters of an argon2 PHC string.
fn hash_params(hash: &str) -> Option<(Algorithm, Version, Params)> {
    let parsed = PasswordHash::new(hash).ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).ok()?;
    Some((algorithm, version, params))
}

/// A hash of a random password with `model`'s algorithm, version and parameters (argon2's
/// defaults, which `oebb passwd` uses, without a model).
fn decoy_hash(model: Option<(Algorithm, Version, Params)>) -> String {
    let secret = URL_SAFE_NO_PAD.encode(super::secrets::random_bytes(32));
    hash_with(model, &secret)
}

fn hash_with(model: Option<(Algorithm, Version, Params)>, password: &str) -> String {
    let (algorithm, version, params) =
        model.unwrap_or((Algorithm::default(), Version::default(), Params::DEFAULT));
    Argon2::new(algorithm, version, params)
        .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
        .expect("argon2 hashes with parameters it accepted")
        .to_string()
}

/// SHA-256 of a PHC string, URL-safe base64.
fn fingerprint(hash: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(hash.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, password: &str, model: Option<(Algorithm, Version, Params)>) -> User {
        User {
            name: name.into(),
            password: hash_with(model, password),
        }
    }

    fn cheap() -> Option<(Algorithm, Version, Params)> {
        let params = Params::new(1024, 1, 1, None).unwrap();
        Some((Algorithm::Argon2id, Version::V0x13, params))
    }

    #[test]
    fn the_decoy_is_a_real_hash_with_the_users_parameters() {
        let model = hash_params(&user("alice", "pw", cheap()).password);
        let decoy = hash_params(&decoy_hash(model.clone())).expect("the decoy parses");
        assert_eq!(Some(decoy), model);
        // A hash made this way is a hash of its password: verifying it runs the whole
        // computation with those parameters and finds the password.
        let known = hash_with(model, "the decoy's password");
        let parsed = PasswordHash::new(&known).unwrap();
        assert!(Argon2::default()
            .verify_password(b"the decoy's password", &parsed)
            .is_ok());
        // Without users, the decoy has the parameters `oebb passwd` uses.
        let (algorithm, _, params) = hash_params(&decoy_hash(None)).unwrap();
        assert_eq!(algorithm, Algorithm::Argon2id);
        let costs = |p: &Params| (p.m_cost(), p.t_cost(), p.p_cost());
        assert_eq!(costs(&params), costs(&Params::DEFAULT));
    }

    #[test]
    fn checks_that_fit_the_memory_budget_run_at_once() {
        // Only the parameters are read: the hashes are not computed.
        let with_cost = |m: u32| User {
            name: "bob".into(),
            password: format!("$argon2id$v=19$m={m},t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"),
        };
        let default = [with_cost(Params::DEFAULT_M_COST)];
        assert!(hash_params(&default[0].password).is_some());
        assert_eq!(running_limit(&default, 1), 1);
        assert_eq!(running_limit(&default, 2), 2);
        assert_eq!(running_limit(&default, 64), 3, "19 MiB each within 64 MiB");
        assert_eq!(
            running_limit(&[], 64),
            3,
            "no users: the decoy's default cost"
        );
        let huge = [with_cost(MEMORY_BUDGET * 2), with_cost(1024)];
        assert_eq!(running_limit(&huge, 64), 1, "the largest cost counts");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn right_wrong_and_unknown() {
        let p = Passwords::with_limits(&[user("alice", "s3cret", cheap())], 1, 4);
        assert_eq!(p.check("alice", "nope").await, PasswordCheck::Wrong);
        assert_eq!(p.check("alice", "s3cret").await, PasswordCheck::Right);
        assert_eq!(p.check("bob", "s3cret").await, PasswordCheck::Wrong);
        assert_eq!(
            p.fingerprint("alice"),
            Some(fingerprint(&p.accounts().by_name["alice"].hash))
        );
        assert_eq!(p.fingerprint("bob"), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn users_follow_a_new_configuration() {
        let p = Arc::new(Passwords::with_limits(
            &[user("alice", "s3cret", cheap())],
            1,
            4,
        ));
        let alice = p.fingerprint("alice");
        p.set_users(&[user("bob", "b0b", cheap()), user("carol", "c", None)]);
        assert_eq!(p.check("alice", "s3cret").await, PasswordCheck::Wrong);
        assert_eq!(p.check("bob", "b0b").await, PasswordCheck::Right);
        assert_eq!(p.fingerprint("alice"), None);
        let again = user("alice", "s3cret", cheap());
        p.set_users(std::slice::from_ref(&again));
        assert_ne!(
            p.fingerprint("alice"),
            alice,
            "a new hash, a new fingerprint"
        );
        assert_eq!(p.check("alice", "s3cret").await, PasswordCheck::Right);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn attempts_beyond_the_waiting_room_are_refused_at_once() {
        let p = Passwords::with_limits(&[user("alice", "s3cret", cheap())], 1, 1);
        // All ten are polled before the first check can end: one runs, one waits, the rest
        // find no room.
        let names: Vec<String> = (0..10).map(|i| format!("guess{i}")).collect();
        let answers = futures_util::future::join_all(names.iter().map(|n| p.check(n, "pw"))).await;
        let busy = answers
            .iter()
            .filter(|a| **a == PasswordCheck::Busy)
            .count();
        let wrong = answers
            .iter()
            .filter(|a| **a == PasswordCheck::Wrong)
            .count();
        assert_eq!((wrong, busy), (2, 8), "{answers:?}");
        // Room again once they ended.
        assert_eq!(p.check("alice", "s3cret").await, PasswordCheck::Right);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sixth_attempt_at_once_for_a_name_waits_without_a_check() {
        let p = Passwords::with_limits(&[user("alice", "s3cret", cheap())], 1, 64);
        let answers =
            futures_util::future::join_all((0..30).map(|_| p.check("alice", "guess"))).await;
        let wrong = answers
            .iter()
            .filter(|a| **a == PasswordCheck::Wrong)
            .count();
        let too_soon = answers
            .iter()
            .filter(|a| matches!(a, PasswordCheck::TooSoon(_)))
            .count();
        assert_eq!((wrong, too_soon), (5, 25), "{answers:?}");
        assert!(matches!(
            p.check("alice", "s3cret").await,
            PasswordCheck::TooSoon(_)
        ));
    }
}
