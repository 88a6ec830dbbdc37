//! Files only their owner may read: the master's `oebb.cfg` (password hashes) and `slaves.cfg`
//! (worker passwords), and the master directory that holds them.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

/// Mode of a file holding secrets.
#[cfg(unix)]
const FILE_MODE: u32 = 0o600;
/// Mode of a directory holding such files.
#[cfg(unix)]
const DIR_MODE: u32 = 0o700;

/// Creates `path` holding `text`, readable by its owner only; fails if it exists (so neither a
/// file nor a symbolic link planted there is written through).
pub fn create_new(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    owner_only(&mut options);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Replaces `path` with `text` at once (written beside it, then renamed over it, so a crash
/// never leaves half a file), the new file readable by its owner only.
pub fn replace(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = path.with_file_name(format!(".{name}.new"));
    // A temporary file left by a crash keeps its mode; a fresh one gets owner-only.
    match std::fs::remove_file(&temp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    create_new(&temp, text)?;
    std::fs::rename(&temp, path)
}

/// Creates the directory `dir` (and its missing parents) with `dir` itself readable by its
/// owner only; an existing directory is left as it is.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir)
}

fn owner_only(options: &mut OpenOptions) {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, FILE_MODE);
    #[cfg(not(unix))]
    let _ = options;
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_and_the_directory_are_the_owners_only() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/master");
        create_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let file = dir.join("oebb.cfg");
        create_new(&file, "one").unwrap();
        assert_eq!(mode(&file), 0o600);
        assert!(
            create_new(&file, "two").is_err(),
            "an existing file is kept"
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        replace(&file, "three").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "three");
        assert_eq!(mode(&file), 0o600);
    }

    #[test]
    fn a_stale_temporary_file_does_not_give_its_mode_to_the_replacement() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("oebb.cfg");
        let stale = root.path().join(".oebb.cfg.new");
        std::fs::write(&stale, "half").unwrap();
        std::fs::set_permissions(&stale, std::fs::Permissions::from_mode(0o666)).unwrap();
        replace(&file, "whole").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "whole");
        assert_eq!(mode(&file), 0o600);
        assert!(!stale.exists());
    }
}
