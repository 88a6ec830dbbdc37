//! What `oebb create-master` found on this machine: plain data, filled by [`super::probe`] and
//! read by [`super::capability_lines`].

/// A PostgreSQL cluster: a running server, or one registered (Debian's `pg_lsclusters`) but down.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cluster {
    /// The port, which names the cluster even over a Unix socket.
    pub port: u16,
    /// The major version (`15`, `9.6`), from the server's answer or its files, if known.
    pub version: Option<String>,
    /// Directory of the cluster's programs (`psql`, `createdb`), if known.
    pub bin: Option<String>,
    /// Directory of its Unix socket, if known.
    pub socket_dir: Option<String>,
    /// Address it listens on for TCP, if known.
    pub tcp_host: Option<String>,
    /// Whether a server answers on it.
    pub running: bool,
    /// How it was found, for the comments (`process 3395, data /srv/pg`, `pg_lsclusters 15/main`).
    pub found_by: String,
    /// Debian's cluster name (`15/main`), when `pg_lsclusters` knows it.
    pub debian_name: Option<String>,
    /// The OS user that owns its data, if known (its role usually exists).
    pub owner: Option<String>,
    /// What happened when the server was asked for its version.
    pub access: Access,
}

/// The answer to `SHOW server_version`, asked without a password.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Access {
    /// Not asked (the cluster is down, or no `psql` was found).
    #[default]
    NotAsked,
    /// The server answered.
    Answered {
        /// The socket directory or address that answered; None for libpq's default socket.
        host: Option<String>,
        /// The role that answered; None when it is the current user's own name.
        user: Option<String>,
        /// `server_version`, e.g. `15.4 (Debian 15.4-1)`.
        server_version: String,
        /// Whether that role may create databases.
        createdb: bool,
    },
    /// No role could connect without a password; the last error.
    Refused(String),
}

/// A Python interpreter that ran.
#[derive(Clone, Debug, PartialEq)]
pub struct Python {
    /// `major.minor.micro`.
    pub version: (u32, u32, u32),
    /// Its absolute path (`sys.executable`).
    pub bin: String,
    /// How it was found (`pyenv 2.7.18`, `PATH`).
    pub found_by: String,
    /// Whether other users may run it: tried as the local worker's user when there is one
    /// (create-master as root), else whether no closed directory is on its path. A worker
    /// running as another user needs that.
    pub open_to_others: bool,
}

/// Everything found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Machine {
    /// PostgreSQL clusters, running or registered.
    pub clusters: Vec<Cluster>,
    /// PostgreSQL versions installed (`/usr/lib/postgresql/*/bin`), with their `bin` directory.
    pub installed_postgresql: Vec<(String, String)>,
    /// Python interpreters.
    pub pythons: Vec<Python>,
    /// The OS user create-master runs as (the role libpq uses by default).
    pub user: String,
    /// The user the local worker's commands run as when not [`Machine::user`]
    /// (`local-worker-user`): its role is the one builds use, and its Pythons the ones it runs.
    pub worker_user: Option<String>,
}

impl Machine {
    /// The OS user the builds run as, whose name libpq gives as the role by default.
    pub fn builds_user(&self) -> &str {
        self.worker_user.as_deref().unwrap_or(&self.user)
    }
}

/// `15` from `15.4 (Debian 15.4-1)`, `9.6` from `9.6.24`: the part that names a release series.
pub fn major_version(server_version: &str) -> Option<String> {
    let number = server_version.split_whitespace().next()?;
    let mut parts = number.split(|c: char| !c.is_ascii_digit());
    let first: u32 = parts.next()?.parse().ok()?;
    if first >= 10 {
        return Some(first.to_string());
    }
    let second: u32 = parts.next()?.parse().ok()?;
    Some(format!("{first}.{second}"))
}

#[cfg(test)]
mod tests {
    use super::major_version;

    #[test]
    fn major_version_of_each_numbering() {
        assert_eq!(
            major_version("15.4 (Debian 15.4-1.pgdg120+1)").unwrap(),
            "15"
        );
        assert_eq!(major_version("16devel").unwrap(), "16");
        assert_eq!(major_version("9.6.24").unwrap(), "9.6");
        assert_eq!(major_version("15").unwrap(), "15");
        assert_eq!(major_version("9.6").unwrap(), "9.6");
        assert_eq!(major_version("9"), None);
        assert_eq!(major_version(""), None);
        assert_eq!(major_version("banana"), None);
    }
}
