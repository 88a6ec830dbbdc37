//! Newtypes for the identifiers the store hands out, so signatures say what they take.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

id_type!(
    /// A build request: a wish to build a builder, stored before anything runs.
    BuildRequestId
);
id_type!(
    /// One run of a build request on a worker.
    BuildId
);
id_type!(
    /// One step of a build.
    StepId
);
id_type!(
    /// A change seen in a watched repository.
    ChangeId
);
id_type!(
    /// One connection of a worker, from accept to close.
    ConnectionId
);
id_type!(
    /// One outgoing mail of the queue.
    MailId
);
