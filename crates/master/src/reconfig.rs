//! Reconfiguration of a running master: `oebb reconfig DIR` (`POST /api/reconfig` with the
//! master's API token) and SIGHUP read the master directory again.
//!
//! ```text
//! trigger ─▶ Reconfig::run ─▶ blocking task: read + check (the loader) ─▶ Event::Reconfigure
//!                                   ─▶ scheduler: apply_configuration, or keep the running one
//!                                   ─▶ Outcome (applied: what changed; refused: every error)
//! ```
//!
//! Reading thousands of buildouts takes time: it never runs on the scheduler loop, which gets
//! the result as one event. Reconfigs run one at a time, in the order they were asked for.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use oebb_config::{MasterConfig, Overrides};
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::configuration::Outcome;
use crate::scheduler::Event;
use crate::watch::WatchFiles;

/// Reads and checks a master directory: the configuration, or every error found, one line
/// each as `FILE:LINE: what is wrong; what to do`. `oebb master` gives the checks of
/// `oebb check`; [`plain_loader`] only loads.
pub type ConfigLoader = Arc<dyn Fn(&Path) -> Result<MasterConfig, Vec<String>> + Send + Sync>;

/// The loader that reads the directory as `oebb_config::load` does, without `oebb check`'s
/// extra checks (recipes, ignore files).
pub fn plain_loader() -> ConfigLoader {
    Arc::new(|dir| {
        oebb_config::load(dir, &Overrides::default())
            .map_err(|errors| errors.iter().map(ToString::to_string).collect())
    })
}

/// The file in the master directory (mode 0600) holding the address the running master's
/// web answers on, so `oebb reconfig` finds the running master even when the configuration
/// it would read is broken or names another address.
pub const WEB_ADDRESS_FILE: &str = ".oebb-web-address";

/// A master directory read and checked off the loop: its configuration, and the files that
/// watching reads besides it (more files to read, so read here too).
pub struct LoadedConfiguration {
    /// The configuration.
    pub config: MasterConfig,
    /// The standalone buildouts' live sources and the hooks' secret.
    pub watch_files: WatchFiles,
}

/// Why a reconfig could not run.
#[derive(Debug, thiserror::Error)]
#[error("the master is stopping")]
pub struct Stopping;

/// Asks the scheduler to take the master directory's configuration again.
#[derive(Clone)]
pub struct Reconfig {
    dir: PathBuf,
    loader: ConfigLoader,
    events: mpsc::UnboundedSender<Event>,
    one_at_a_time: Arc<Mutex<()>>,
}

impl Reconfig {
    /// Reconfigs of the master directory `dir`, read by `loader`, sent to `events`.
    pub fn new(dir: &Path, loader: ConfigLoader, events: mpsc::UnboundedSender<Event>) -> Self {
        Reconfig {
            dir: dir.to_path_buf(),
            loader,
            events,
            one_at_a_time: Arc::new(Mutex::new(())),
        }
    }

    /// Reads and checks the master directory off the async threads, then has the scheduler
    /// apply it (or keep the running configuration); returns how it ended.
    pub async fn run(&self) -> Result<Outcome, Stopping> {
        let _turn = self.one_at_a_time.lock().await;
        let (dir, loader) = (self.dir.clone(), self.loader.clone());
        tracing::info!(dir = %dir.display(), "reconfig: reading the master directory");
        let loaded = tokio::task::spawn_blocking(move || {
            loader(&dir).map(|config| {
                let watch_files = WatchFiles::read(&config);
                Box::new(LoadedConfiguration {
                    config,
                    watch_files,
                })
            })
        })
        .await
        .unwrap_or_else(|e| Err(vec![format!("reading the configuration failed: {e}")]));
        let (reply, answer) = oneshot::channel();
        self.events
            .send(Event::Reconfigure { loaded, reply })
            .map_err(|_| Stopping)?;
        answer.await.map_err(|_| Stopping)
    }
}

/// Writes the web address file (see [`WEB_ADDRESS_FILE`]).
pub fn write_web_address(dir: &Path, address: std::net::SocketAddr) -> std::io::Result<()> {
    crate::web::secrets::write_private(&dir.join(WEB_ADDRESS_FILE), &format!("{address}\n"))
}
