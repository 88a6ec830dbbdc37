//! A stock `buildbot-worker` from PyPI, run in the foreground and killed when dropped.

pub use oebb_testkit::StockWorker;
