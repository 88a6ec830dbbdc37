//! Which free worker gets a build: highest priority first, then the least recently used.

use oebb_config::WorkerName;

/// A connected worker of the builder with room for the build.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// The worker.
    pub name: WorkerName,
    /// Its configured priority (higher first).
    pub priority: f64,
    /// When it last got a build (0: never).
    pub last_used: u64,
}

/// The worker to use, if any: highest priority, then least recently used, then name.
pub fn choose_worker(candidates: &[Candidate]) -> Option<WorkerName> {
    candidates
        .iter()
        .min_by(|a, b| {
            b.priority
                .total_cmp(&a.priority)
                .then(a.last_used.cmp(&b.last_used))
                .then(a.name.cmp(&b.name))
        })
        .map(|c| c.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, priority: f64, last_used: u64) -> Candidate {
        Candidate {
            name: WorkerName::new(name),
            priority,
            last_used,
        }
    }

    #[test]
    fn priority_then_least_recently_used() {
        assert_eq!(choose_worker(&[]), None);
        let chosen = choose_worker(&[c("a", 0.0, 1), c("b", 1.0, 5), c("c", 1.0, 2)]);
        assert_eq!(chosen, Some(WorkerName::new("c")));
        let chosen = choose_worker(&[c("a", 0.0, 0), c("b", 0.0, 0)]);
        assert_eq!(chosen, Some(WorkerName::new("a")));
    }
}
