//! Who holds each worker's name: Buildbot's rule for a worker that logs in while a connection
//! of the same name exists. The older connection is asked whether it is alive; if it answers,
//! the new login is refused, otherwise the old connection is dropped and the new one takes the
//! name. The scheduler loop owns a [`Logins`] and feeds it one event at a time, so two logins of
//! one name arriving together are decided one after the other.
//!
//! ```text
//! login(new) ─▶ no holder, or holder closed ──────────────▶ Accept: new holds the name
//!            ─▶ holder, nobody waiting ───────────────────▶ Ask the holder; new waits
//!            ─▶ holder, another login waiting ─────────────▶ Refuse new (Deciding)
//! answer(holder, alive) ─▶ alive ─▶ Refuse the waiting one (Alive)
//!                       ─▶ dead  ─▶ close holder; Accept the waiting one
//! leave(c) ─▶ c held the name ─▶ the waiting one, if any, takes it; c waited ─▶ forgotten
//! ```
//!
//! Plain data over a connection type `C`, so the rule is tested without sockets.

use std::collections::HashMap;
use std::fmt;

use oebb_config::WorkerName;
use oebb_protocol::Connection;

/// What the rule needs to know about a connection.
pub trait Link: Clone {
    /// Whether `other` is this very connection.
    fn same(&self, other: &Self) -> bool;
    /// Whether it has closed already (it then needs no question).
    fn gone(&self) -> bool;
}

impl Link for Connection {
    fn same(&self, other: &Self) -> bool {
        self.is_same(other)
    }

    fn gone(&self) -> bool {
        self.close_reason().is_some()
    }
}

/// Why a login was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The connection that holds the name answered: the worker is connected and alive.
    Alive,
    /// Another login of the same name is being decided.
    Deciding,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::Alive => "duplicate login: this worker is already connected and answers",
            Refusal::Deciding => {
                "duplicate login: another connection of this worker is logging in; try again"
            }
        })
    }
}

/// What to do with a login that arrived.
#[derive(Debug)]
pub enum Arrival<C, R> {
    /// It holds the name now: answer `R` with yes.
    Accept(R),
    /// Answer `R` with this refusal.
    Refuse(R, Refusal),
    /// Ask this holder whether it is alive, then tell [`Logins::answer`]; the login waits.
    AskHolder(C),
}

/// What to do once the holder answered (or did not).
#[derive(Debug)]
pub enum Answer<C, R> {
    /// The holder is alive: refuse the waiting login.
    Refuse(R, Refusal),
    /// The holder did not answer: close it; the waiting login holds the name now.
    Replace {
        /// The connection to close.
        old: C,
        /// The login to accept.
        reply: R,
    },
}

struct Slot<C, R> {
    holder: C,
    waiting: Option<(C, R)>,
}

/// The holder of each worker name and the login waiting for it, if any; `R` answers a login.
pub struct Logins<C, R> {
    slots: HashMap<WorkerName, Slot<C, R>>,
}

impl<C, R> Default for Logins<C, R> {
    fn default() -> Self {
        Logins {
            slots: HashMap::new(),
        }
    }
}

impl<C: Link, R> Logins<C, R> {
    /// A login of `name` on connection `new` that passed its password check.
    pub fn arrive(&mut self, name: &WorkerName, new: C, reply: R) -> Arrival<C, R> {
        let Some(slot) = self.slots.get_mut(name) else {
            self.slots.insert(
                name.clone(),
                Slot {
                    holder: new,
                    waiting: None,
                },
            );
            return Arrival::Accept(reply);
        };
        if slot.waiting.is_some() {
            return Arrival::Refuse(reply, Refusal::Deciding);
        }
        if slot.holder.gone() {
            slot.holder = new;
            return Arrival::Accept(reply);
        }
        slot.waiting = Some((new, reply));
        Arrival::AskHolder(slot.holder.clone())
    }

    /// The holder `asked` answered the liveness question (`alive`) or not. `None` when that
    /// question no longer matters (the holder left meanwhile and the waiting login got the name).
    pub fn answer(&mut self, name: &WorkerName, asked: &C, alive: bool) -> Option<Answer<C, R>> {
        let slot = self.slots.get_mut(name)?;
        if !slot.holder.same(asked) {
            return None;
        }
        let (new, reply) = slot.waiting.take()?;
        if alive {
            return Some(Answer::Refuse(reply, Refusal::Alive));
        }
        let old = std::mem::replace(&mut slot.holder, new);
        Some(Answer::Replace { old, reply })
    }

    /// Connection `c` of `name` ended (or gave up waiting). When it held the name, the login
    /// waiting for it takes the name: its answer is returned, to be sent yes.
    pub fn leave(&mut self, name: &WorkerName, c: &C) -> Option<R> {
        let slot = self.slots.get_mut(name)?;
        if slot.waiting.as_ref().is_some_and(|(w, _)| w.same(c)) {
            slot.waiting = None;
            return None;
        }
        if !slot.holder.same(c) {
            return None;
        }
        match slot.waiting.take() {
            Some((new, reply)) => {
                slot.holder = new;
                Some(reply)
            }
            None => {
                self.slots.remove(name);
                None
            }
        }
    }

    /// Whether `c` holds `name`.
    pub fn holds(&self, name: &WorkerName, c: &C) -> bool {
        self.slots.get(name).is_some_and(|s| s.holder.same(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    /// A connection: an id and whether it has closed.
    #[derive(Clone, Debug)]
    struct Fake(u32, Rc<Cell<bool>>);

    impl Fake {
        fn new(id: u32) -> Fake {
            Fake(id, Rc::default())
        }
        fn close(&self) {
            self.1.set(true);
        }
    }

    impl Link for Fake {
        fn same(&self, other: &Self) -> bool {
            self.0 == other.0
        }
        fn gone(&self) -> bool {
            self.1.get()
        }
    }

    fn w() -> WorkerName {
        WorkerName::new("w")
    }

    #[test]
    fn the_first_login_takes_the_name() {
        let mut l = Logins::default();
        let (a, b) = (Fake::new(1), Fake::new(2));
        assert!(matches!(
            l.arrive(&w(), a.clone(), "a"),
            Arrival::Accept("a")
        ));
        assert!(l.holds(&w(), &a));
        // Another name is independent.
        let other = WorkerName::new("x");
        assert!(matches!(l.arrive(&other, b, "b"), Arrival::Accept("b")));
    }

    #[test]
    fn a_login_while_the_holder_answers_is_refused() {
        let mut l = Logins::default();
        let (a, b) = (Fake::new(1), Fake::new(2));
        l.arrive(&w(), a.clone(), "a");
        let Arrival::AskHolder(asked) = l.arrive(&w(), b.clone(), "b") else {
            panic!("the holder is asked first");
        };
        assert!(asked.same(&a));
        assert!(matches!(
            l.answer(&w(), &a, true),
            Some(Answer::Refuse("b", Refusal::Alive))
        ));
        assert!(l.holds(&w(), &a));
        assert!(!l.holds(&w(), &b));
    }

    #[test]
    fn a_silent_holder_is_replaced() {
        let mut l = Logins::default();
        let (a, b) = (Fake::new(1), Fake::new(2));
        l.arrive(&w(), a.clone(), "a");
        l.arrive(&w(), b.clone(), "b");
        let Some(Answer::Replace { old, reply }) = l.answer(&w(), &a, false) else {
            panic!("the silent holder is replaced");
        };
        assert!(old.same(&a));
        assert_eq!(reply, "b");
        assert!(l.holds(&w(), &b));
        // The old connection's end no longer touches the name.
        assert_eq!(l.leave(&w(), &a), None);
        assert!(l.holds(&w(), &b));
    }

    #[test]
    fn two_logins_at_once_are_decided_one_after_the_other() {
        let mut l = Logins::default();
        let (a, b, c) = (Fake::new(1), Fake::new(2), Fake::new(3));
        l.arrive(&w(), a.clone(), "a");
        assert!(matches!(l.arrive(&w(), b, "b"), Arrival::AskHolder(_)));
        assert!(matches!(
            l.arrive(&w(), c, "c"),
            Arrival::Refuse("c", Refusal::Deciding)
        ));
        assert!(matches!(
            l.answer(&w(), &a, false),
            Some(Answer::Replace { reply: "b", .. })
        ));
    }

    #[test]
    fn a_closed_holder_is_replaced_without_a_question() {
        let mut l = Logins::default();
        let (a, b) = (Fake::new(1), Fake::new(2));
        l.arrive(&w(), a.clone(), "a");
        a.close();
        assert!(matches!(
            l.arrive(&w(), b.clone(), "b"),
            Arrival::Accept("b")
        ));
        assert!(l.holds(&w(), &b));
    }

    #[test]
    fn a_holder_leaving_during_the_question_hands_the_name_over() {
        let mut l = Logins::default();
        let (a, b) = (Fake::new(1), Fake::new(2));
        l.arrive(&w(), a.clone(), "a");
        l.arrive(&w(), b.clone(), "b");
        assert_eq!(l.leave(&w(), &a), Some("b"));
        assert!(l.holds(&w(), &b));
        // The late answer about `a` changes nothing.
        assert!(l.answer(&w(), &a, false).is_none());
        assert!(l.holds(&w(), &b));
    }

    #[test]
    fn a_waiting_login_that_gives_up_is_forgotten() {
        let mut l = Logins::default();
        let (a, b, c) = (Fake::new(1), Fake::new(2), Fake::new(3));
        l.arrive(&w(), a.clone(), "a");
        l.arrive(&w(), b.clone(), "b");
        assert_eq!(l.leave(&w(), &b), None);
        assert!(l.holds(&w(), &a));
        assert!(l.answer(&w(), &a, false).is_none());
        // The next login is asked about again.
        assert!(matches!(l.arrive(&w(), c, "c"), Arrival::AskHolder(_)));
    }

    #[test]
    fn the_last_leave_frees_the_name() {
        let mut l = Logins::default();
        let (a, b) = (Fake::new(1), Fake::new(2));
        l.arrive(&w(), a.clone(), "a");
        assert_eq!(l.leave(&w(), &a), None);
        assert!(!l.holds(&w(), &a));
        assert!(matches!(l.arrive(&w(), b, "b"), Arrival::Accept("b")));
    }
}
