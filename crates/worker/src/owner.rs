//! Running the commands as another (unprivileged) user: OpenERP and Odoo refuse to run as
//! root, so a worker started as root (the local worker of `oebb master --local-worker`) runs
//! its commands as the user given, and gives that user what it creates for them (the workdir,
//! directories of `mkdir`, downloaded files), so the commands can write there.

use std::ffi::CString;
use std::io;
use std::path::{Path, PathBuf};

/// The user the commands run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    /// Its name, for messages.
    pub name: String,
    /// Its user id.
    pub uid: u32,
    /// Its primary group id.
    pub gid: u32,
    /// Its home directory from the user database (the commands' `HOME`).
    pub home: PathBuf,
}

impl RunAs {
    /// Looks `name` up in the user database.
    pub fn lookup(name: &str) -> Result<RunAs, String> {
        let c_name =
            CString::new(name).map_err(|_| format!("user name {name:?} holds a NUL byte"))?;
        let mut buf = vec![0u8; 16 * 1024];
        // SAFETY: getpwnam_r writes into `entry` and `buf` (of the given length) only, and
        // sets `found` to `&entry` or null; the strings read below point into `buf`.
        unsafe {
            let mut entry: libc::passwd = std::mem::zeroed();
            let mut found: *mut libc::passwd = std::ptr::null_mut();
            let rc = libc::getpwnam_r(
                c_name.as_ptr(),
                &mut entry,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut found,
            );
            if rc != 0 {
                return Err(format!(
                    "looking up user {name:?}: {}",
                    io::Error::from_raw_os_error(rc)
                ));
            }
            if found.is_null() {
                return Err(format!(
                    "no user {name:?} on this machine: create it (useradd --system {name}) \
                     or name another"
                ));
            }
            let home = std::ffi::CStr::from_ptr(entry.pw_dir)
                .to_string_lossy()
                .into_owned();
            Ok(RunAs {
                name: name.to_string(),
                uid: entry.pw_uid,
                gid: entry.pw_gid,
                home: PathBuf::from(home),
            })
        }
    }

    /// Gives `path` (not what is under it) to the user.
    pub fn give(&self, path: &Path) -> io::Result<()> {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid))
    }

    /// The commands' `HOME`: the user's home when it exists, else `fallback` (system users
    /// often have none, and pip, buildout and Python write under `HOME`).
    pub fn home_or(&self, fallback: &Path) -> PathBuf {
        if self.home.is_dir() {
            self.home.clone()
        } else {
            fallback.to_path_buf()
        }
    }
}

/// `create_dir_all`, giving every directory it creates to `owner` when there is one.
pub(crate) fn create_dir_all(path: &Path, owner: Option<&RunAs>) -> io::Result<()> {
    let Some(owner) = owner else {
        return std::fs::create_dir_all(path);
    };
    let missing: Vec<&Path> = path.ancestors().take_while(|p| !p.exists()).collect();
    std::fs::create_dir_all(path)?;
    for dir in missing.iter().rev() {
        owner.give(dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_found_and_a_missing_user_is_explained() {
        let root = RunAs::lookup("root").unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        let err = RunAs::lookup("oebb-no-such-user").unwrap_err();
        assert!(err.contains("no user \"oebb-no-such-user\""), "{err}");
        assert!(RunAs::lookup("a\0b").is_err());
    }

    #[test]
    fn created_directories_go_to_the_owner_and_existing_ones_stay() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let me = std::fs::metadata(dir.path()).unwrap();
        // As root, really another owner (nobody); otherwise the only one allowed.
        // SAFETY: geteuid has no preconditions.
        let (uid, gid) = if unsafe { libc::geteuid() } == 0 {
            (65534, 65534)
        } else {
            (me.uid(), me.gid())
        };
        let owner = RunAs {
            name: "someone".into(),
            uid,
            gid,
            home: PathBuf::from("/nonexistent"),
        };
        let deep = dir.path().join("a/b/c");
        create_dir_all(&deep, Some(&owner)).unwrap();
        for created in ["a", "a/b", "a/b/c"] {
            let meta = std::fs::metadata(dir.path().join(created)).unwrap();
            assert_eq!((meta.uid(), meta.gid()), (uid, gid), "{created}");
        }
        assert_eq!(std::fs::metadata(dir.path()).unwrap().uid(), me.uid());
        create_dir_all(&deep, Some(&owner)).unwrap();
        assert_eq!(owner.home_or(dir.path()), dir.path());
    }
}
