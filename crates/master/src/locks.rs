//! Worker locks: named per-worker locks with a number of slots. A step takes one slot
//! (counting) or all of them (exclusive). Locks are taken in name order, one step at a time per
//! build, so two builds never wait on each other in a cycle; permits are dropped on every path.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::step::LockAccess;
use oebb_config::WorkerName;

/// The per-worker lock of buildout runs (bootstrap, `bin/buildout`), one slot.
pub const BUILDOUT_LOCK: &str = "buildout";

/// Every worker's locks; cheap to share.
#[derive(Debug, Default)]
pub struct WorkerLocks {
    slots: HashMap<String, u32>,
    semaphores: Mutex<HashMap<(WorkerName, String), Arc<Semaphore>>>,
}

/// Locks held by one step; released when dropped.
#[derive(Debug)]
pub struct HeldLocks {
    _permits: Vec<OwnedSemaphorePermit>,
}

impl WorkerLocks {
    /// Locks with these slot counts; unknown locks (and `buildout`) have one slot.
    pub fn new(slots: impl IntoIterator<Item = (String, u32)>) -> WorkerLocks {
        WorkerLocks {
            slots: slots.into_iter().map(|(n, c)| (n, c.max(1))).collect(),
            semaphores: Mutex::new(HashMap::new()),
        }
    }

    fn slots(&self, lock: &str) -> u32 {
        self.slots.get(lock).copied().unwrap_or(1)
    }

    fn semaphore(&self, worker: &WorkerName, lock: &str) -> Arc<Semaphore> {
        let mut all = self.semaphores.lock().unwrap_or_else(|e| e.into_inner());
        all.entry((worker.clone(), lock.to_string()))
            .or_insert_with(|| Arc::new(Semaphore::new(self.slots(lock) as usize)))
            .clone()
    }

    /// Waits for every lock of `accesses` on `worker`, in name order.
    pub async fn acquire(&self, worker: &WorkerName, accesses: &[LockAccess]) -> HeldLocks {
        // One access per lock, the exclusive one winning, in name order.
        let mut wanted: BTreeMap<&str, bool> = BTreeMap::new();
        for access in accesses {
            *wanted.entry(access.lock.as_str()).or_insert(false) |= access.exclusive;
        }
        let mut permits = Vec::with_capacity(wanted.len());
        for (lock, exclusive) in wanted {
            let count = if exclusive { self.slots(lock) } else { 1 };
            let permit = self
                .semaphore(worker, lock)
                .acquire_many_owned(count)
                .await
                .expect("lock semaphores are never closed");
            permits.push(permit);
        }
        HeldLocks { _permits: permits }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn exclusive_waits_for_counting_and_is_released_on_drop() {
        let locks = Arc::new(WorkerLocks::new([("db".to_string(), 2)]));
        let w = WorkerName::new("w");
        let a = locks.acquire(&w, &[LockAccess::counting("db")]).await;
        let b = locks.acquire(&w, &[LockAccess::counting("db")]).await;
        let waiting = {
            let locks = locks.clone();
            let w = w.clone();
            tokio::spawn(async move { locks.acquire(&w, &[LockAccess::exclusive("db")]).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        drop(a);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        drop(b);
        let held = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("exclusive lock granted once both slots are free")
            .unwrap();
        // Another worker's lock of the same name is another lock.
        let other = WorkerName::new("other");
        let _x = tokio::time::timeout(
            Duration::from_secs(1),
            locks.acquire(&other, &[LockAccess::exclusive("db")]),
        )
        .await
        .expect("locks are per worker");
        drop(held);
    }

    #[tokio::test]
    async fn two_locks_in_opposite_orders_do_not_deadlock() {
        let locks = Arc::new(WorkerLocks::new([]));
        let w = WorkerName::new("w");
        let mut tasks = Vec::new();
        for i in 0..20 {
            let locks = locks.clone();
            let w = w.clone();
            tasks.push(tokio::spawn(async move {
                let order = if i % 2 == 0 { ["a", "b"] } else { ["b", "a"] };
                let accesses: Vec<_> = order.iter().map(|l| LockAccess::exclusive(l)).collect();
                let _held = locks.acquire(&w, &accesses).await;
                tokio::task::yield_now().await;
            }));
        }
        for task in tasks {
            tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .expect("no deadlock")
                .unwrap();
        }
    }
}
