//! Every path the master or a worker builds from names and build properties goes through here
//! (DESIGN.md decision 6): builder and worker directories, upload destinations, archive and
//! standalone files, step workdirs and the files steps send or fetch.
//!
//! Two rules make a property unable to move a path:
//! - a name or a property value put in a path is one path component ([`Component`]): not empty,
//!   not `.` or `..`, no `/`, no NUL or control character, at most [`MAX_NAME`] bytes;
//! - a path is joined to its root lexically, `.` and `..` resolved without the file system, and
//!   the result must stay under that root ([`RootedPath`]).
//!
//! The text of a step (written by the recipe or the administrator's configuration) is trusted;
//! the values of build properties are not. Pure: no file system access.

use std::fmt;
use std::path::{Component as Part, Path, PathBuf};

/// The longest path component, in bytes (Linux `NAME_MAX`).
pub const MAX_NAME: usize = 255;
/// The longest path, in bytes (Linux `PATH_MAX`).
pub const MAX_PATH: usize = 4096;
/// How build properties are written in the paths of steps (`%(prop:NAME)s`).
pub const PLACEHOLDER: &str = "%(prop:";

/// What makes a text unusable where a path component or a relative path is expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// Nothing.
    #[error("is empty")]
    Empty,
    /// `.`
    #[error("is `.`, a directory's name for itself")]
    CurrentDir,
    /// `..`
    #[error("is `..`, the parent directory")]
    ParentDir,
    /// A `/` in a single name.
    #[error("contains `/`")]
    Slash,
    /// A NUL character.
    #[error("contains a NUL character")]
    Nul,
    /// Another control character (newline, escape…).
    #[error("contains a control character")]
    Control,
    /// Longer than a component or a path may be.
    #[error("is longer than {0} bytes")]
    TooLong(usize),
    /// Absolute where a relative path is expected.
    #[error("is an absolute path")]
    Absolute,
    /// A relative path that is its directory itself (`.`, `a/..`) where one below is needed.
    #[error("is the directory itself, not a path inside it")]
    Itself,
    /// An upload directory whose properties would choose among the master directory's own
    /// entries.
    #[error("does not start with a directory of its own")]
    NoUploadDir,
    /// Leads out of its root after `..` are resolved.
    #[error("leads out of {0}")]
    Escapes(String),
}

/// What was checked, so that the message names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// A build property.
    Property(String),
    /// An option of a configuration file.
    Option(String),
    /// A name: `builder`, `worker`, `step`.
    Name(&'static str),
    /// A path of a step: `upload destination`, `workdir`…
    Path(&'static str),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Property(p) => write!(f, "build property `{p}`"),
            Subject::Option(o) => write!(f, "option `{o}`"),
            Subject::Name(n) => write!(f, "{n} name"),
            Subject::Path(p) => write!(f, "{p}"),
        }
    }
}

/// What was expected, for the message's advice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// One path component.
    Name,
    /// A relative path that stays under its root.
    RelativePath,
    /// A path under a root.
    Under,
    /// A directory uploads replace, inside a directory of its own.
    UploadDir,
}

/// A text refused as (part of) a path: which, its value, what is wrong and what to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{subject} = `{}` cannot be used in a path: {}", shown(&self.value), self.reason())]
pub struct PathError {
    /// What was checked.
    pub subject: Subject,
    /// The refused value, as given.
    pub value: String,
    /// What is wrong with it.
    pub problem: Problem,
    /// What was expected.
    pub expected: Expected,
}

impl PathError {
    /// What is wrong and what to do, without naming the value: `it contains `/`; give …`.
    pub fn reason(&self) -> String {
        format!("it {}; {}", self.problem, advice(self.expected))
    }

    fn new(subject: Subject, value: &str, problem: Problem, expected: Expected) -> PathError {
        PathError {
            subject,
            // Bounded: the value may be a megabyte of untrusted text.
            value: value.chars().take(MAX_PATH).collect(),
            problem,
            expected,
        }
    }
}

/// The value as a message shows it: control characters escaped, at most 100 characters.
fn shown(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(100)
        .flat_map(char::escape_debug)
        .collect();
    if value.chars().nth(100).is_some() {
        out.push('…');
    }
    out
}

fn advice(expected: Expected) -> &'static str {
    match expected {
        Expected::Name => {
            "give a single name (letters, digits, `.`, `_`, `-`; not `.` or `..`, no `/`)"
        }
        Expected::RelativePath => {
            "give a relative path (no leading `/`) that does not go up out of its directory with `..`"
        }
        Expected::Under => "the path must stay inside its directory",
        Expected::UploadDir => {
            "an upload replaces the directory it names, so name it inside a directory kept for \
             uploads, before any build property (e.g. `public_html/nose/$(buildername)s`)"
        }
    }
}

/// What makes `text` unusable as one path component, if anything.
pub fn component_problem(text: &str) -> Option<Problem> {
    Some(match text {
        "" => Problem::Empty,
        "." => Problem::CurrentDir,
        ".." => Problem::ParentDir,
        _ if text.contains('/') => Problem::Slash,
        _ if text.contains('\0') => Problem::Nul,
        _ if text.chars().any(char::is_control) => Problem::Control,
        _ if text.len() > MAX_NAME => Problem::TooLong(MAX_NAME),
        _ => return None,
    })
}

/// One path component: a name a directory or file can have, that cannot lead anywhere else.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Component(String);

impl Component {
    /// `text` if it is a valid component; otherwise an error naming `subject`.
    pub fn new(subject: Subject, text: &str) -> Result<Component, PathError> {
        match component_problem(text) {
            None => Ok(Component(text.to_string())),
            Some(problem) => Err(PathError::new(subject, text, problem, Expected::Name)),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<Path> for Component {
    fn as_ref(&self) -> &Path {
        Path::new(&self.0)
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `path` with `.` and `..` resolved lexically: `a/./b/../c/` is `a/c`, `/..` is `/`, a `..`
/// with nothing left to remove stays (`../a/../..` is `../..`). The file system is not read,
/// so a symbolic link is not followed: the result says where the text leads, not the disk.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out: Vec<Part> = Vec::new();
    for part in path.components() {
        match part {
            Part::CurDir => {}
            Part::ParentDir => match out.last() {
                Some(Part::Normal(_)) => {
                    out.pop();
                }
                Some(Part::RootDir) | Some(Part::Prefix(_)) => {}
                _ => out.push(part),
            },
            _ => out.push(part),
        }
    }
    out.iter().collect()
}

/// Checks what every path text must be: no NUL or control character, no component longer than
/// [`MAX_NAME`] bytes, at most [`MAX_PATH`] bytes.
fn check_text(subject: &Subject, text: &str, expected: Expected) -> Result<(), PathError> {
    let problem = if text.contains('\0') {
        Problem::Nul
    } else if text.chars().any(char::is_control) {
        Problem::Control
    } else if text.len() > MAX_PATH {
        Problem::TooLong(MAX_PATH)
    } else if text.split('/').any(|c| c.len() > MAX_NAME) {
        Problem::TooLong(MAX_NAME)
    } else {
        return Ok(());
    };
    Err(PathError::new(subject.clone(), text, problem, expected))
}

/// A relative path that stays inside the directory it is relative to (no leading `/`, no `..`
/// that leads out), normalised, not empty: `doc.upload-dir`, a standalone buildout's file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelativePath(PathBuf);

impl RelativePath {
    /// `text` normalised if it is such a path; otherwise an error naming `subject`.
    pub fn new(subject: Subject, text: &str) -> Result<RelativePath, PathError> {
        let expected = Expected::RelativePath;
        check_text(&subject, text, expected)?;
        let refuse = |problem| Err(PathError::new(subject.clone(), text, problem, expected));
        if text.starts_with('/') {
            return refuse(Problem::Absolute);
        }
        let path = normalize(Path::new(text));
        if path.starts_with("..") {
            return refuse(Problem::Escapes("its directory".into()));
        }
        if path.as_os_str().is_empty() {
            return refuse(match text {
                "" => Problem::Empty,
                _ => Problem::Itself,
            });
        }
        Ok(RelativePath(path))
    }

    /// The normalised path.
    pub fn as_path(&self) -> &Path {
        &self.0
    }
}

/// A path known to stay under its root (after `.` and `..` are resolved lexically): the only
/// kind of path the master deletes, writes or reads for a step, and sends as a worker path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootedPath {
    root: PathBuf,
    path: PathBuf,
}

impl RootedPath {
    /// `root` itself.
    pub fn root(subject: Subject, root: &Path) -> Result<RootedPath, PathError> {
        RootedPath::under(subject, root, root)
    }

    /// `rel` joined to `root`; `rel` must be relative and stay under `root`.
    pub fn join(subject: Subject, root: &Path, rel: &str) -> Result<RootedPath, PathError> {
        if rel.starts_with('/') {
            let err = PathError::new(subject, rel, Problem::Absolute, Expected::RelativePath);
            return Err(err);
        }
        RootedPath::under(subject, root, &root.join(rel))
    }

    /// `path` (absolute, or relative to the same place as `root`), if it stays under `root`.
    pub fn under(subject: Subject, root: &Path, path: &Path) -> Result<RootedPath, PathError> {
        let text = path.to_string_lossy();
        check_text(&subject, &text, Expected::Under)?;
        let (root, path) = (normalize(root), normalize(path));
        // Component-wise: `/m/ab` is not under `/m/a`. An empty root is the current
        // directory, which `..` leaves.
        let inside = if root.as_os_str().is_empty() {
            !path.has_root() && !path.starts_with("..")
        } else {
            path.starts_with(&root)
        };
        if inside {
            return Ok(RootedPath { root, path });
        }
        let escapes = Problem::Escapes(root.display().to_string());
        Err(PathError::new(subject, &text, escapes, Expected::Under))
    }

    /// `self` with one more component.
    pub fn child(&self, name: &Component) -> RootedPath {
        RootedPath {
            root: self.root.clone(),
            path: self.path.join(name),
        }
    }

    /// The path, normalised.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its root, normalised.
    pub fn root_dir(&self) -> &Path {
        &self.root
    }

    /// Whether the path is strictly below its root (not the root itself).
    pub fn is_below_root(&self) -> bool {
        self.path != self.root
    }

    /// The path as text (what a worker is sent).
    pub fn to_text(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }
}

/// Checks the value a build property gives to a path: one component.
pub fn property_value(name: &str, value: &str) -> Result<Component, PathError> {
    Component::new(Subject::Property(name.to_string()), value)
}

/// The literal directory a path template starts with, up to its first property placeholder:
/// `/srv/rel/%(prop:tag)s/x` → `/srv/rel`; `a/b` (no placeholder) → `a`.
pub fn fixed_dir(template: &str) -> &str {
    let literal = template
        .find(PLACEHOLDER)
        .map_or(template, |at| &template[..at]);
    literal.rfind('/').map_or("", |at| &literal[..at.max(1)])
}

/// A builder's directory on a worker: `<basedir>/<builder>`.
pub fn builder_dir(basedir: &str, builder: &str) -> Result<RootedPath, PathError> {
    let name = Component::new(Subject::Name("builder"), builder)?;
    let base = RootedPath::root(Subject::Path("worker base directory"), Path::new(basedir))?;
    Ok(base.child(&name))
}

/// Where the master keeps its mirror of a polled repository: `<master>/watch/<vcs>/<key>`,
/// `key` being one name (the pollers use a hash of the repository's original URL).
pub fn mirror_dir(master_dir: &Path, vcs: &str, key: &str) -> Result<RootedPath, PathError> {
    let root = RootedPath::root(Subject::Path("master directory"), master_dir)?;
    let vcs = Component::new(Subject::Name("vcs"), vcs)?;
    let key = Component::new(Subject::Name("mirror"), key)?;
    Ok(root
        .child(&Component("watch".to_string()))
        .child(&vcs)
        .child(&key))
}

/// A master path of a step. `template` is the step's text (trusted), `interpolated` the same
/// with the build properties in (each checked with [`property_value`]). A relative path is
/// relative to `master_dir` and must stay under it; either must stay under the template's
/// [`fixed_dir`], so no property can lead it elsewhere.
pub fn master_path(
    subject: Subject,
    master_dir: &Path,
    template: &str,
    interpolated: &str,
) -> Result<RootedPath, PathError> {
    let fixed = fixed_dir(template);
    if !template.starts_with('/') {
        RootedPath::join(subject.clone(), master_dir, fixed)?;
    }
    RootedPath::under(
        subject,
        &master_dir.join(fixed),
        &master_dir.join(interpolated),
    )
}

/// A master file a step sends to a worker: under the template's [`fixed_dir`], relative paths
/// being relative to the master's working directory, as the configuration wrote them (a
/// standalone buildout's file, an `archive` under `packaging.root-dir`).
pub fn master_source(
    subject: Subject,
    template: &str,
    interpolated: &str,
) -> Result<RootedPath, PathError> {
    RootedPath::under(
        subject,
        Path::new(fixed_dir(template)),
        Path::new(interpolated),
    )
}

/// A master directory a step replaces with what a worker sends: relative to `master_dir`,
/// strictly below the template's [`fixed_dir`], which is itself strictly below `master_dir`.
/// So the only directory ever deleted is one inside a directory the configuration dedicates to
/// uploads (`public_html/doc/<project>`), never the master directory, one of its own entries
/// (`buildouts`, `builds`) or anything outside it.
pub fn master_upload_dir(
    master_dir: &Path,
    template: &str,
    interpolated: &str,
) -> Result<RootedPath, PathError> {
    let subject = Subject::Path("upload directory");
    let refuse = |value: &str, problem, expected| {
        Err(PathError::new(subject.clone(), value, problem, expected))
    };
    if template.starts_with('/') {
        return refuse(template, Problem::Absolute, Expected::RelativePath);
    }
    let fixed = RootedPath::join(subject.clone(), master_dir, fixed_dir(template))?;
    if !fixed.is_below_root() {
        return refuse(template, Problem::NoUploadDir, Expected::UploadDir);
    }
    let path = master_path(subject.clone(), master_dir, template, interpolated)?;
    if !path.is_below_root() {
        let itself = Problem::Escapes(format!("{} (it is that directory)", path.root.display()));
        return refuse(interpolated, itself, Expected::Under);
    }
    Ok(path)
}

/// A worker path of a step, relative to `workdir` unless the template is absolute (then it was
/// written by the recipe or the configuration and is kept, normalised, under its own
/// [`fixed_dir`]); a relative one must stay in the builder's directory.
pub fn worker_path(
    subject: Subject,
    builder_dir: &RootedPath,
    workdir: &Path,
    template: &str,
    interpolated: &str,
) -> Result<RootedPath, PathError> {
    if template.starts_with('/') {
        return RootedPath::under(
            subject,
            Path::new(fixed_dir(template)),
            Path::new(interpolated),
        );
    }
    if interpolated.starts_with('/') {
        let err = PathError::new(
            subject,
            interpolated,
            Problem::Absolute,
            Expected::RelativePath,
        );
        return Err(err);
    }
    RootedPath::under(subject, builder_dir.path(), &workdir.join(interpolated))
}

#[cfg(test)]
mod tests;
