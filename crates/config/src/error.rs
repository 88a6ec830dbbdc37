//! Errors and warnings of configuration loading: each names the file, the line and what to do.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where something was found: a file and a 1-based line (0 when it concerns the whole file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file, as given to the loader.
    pub file: PathBuf,
    /// 1-based line number; 0 means the file as a whole.
    pub line: u32,
}

impl Location {
    /// A location at `line` of `file`.
    pub fn new(file: &Path, line: u32) -> Self {
        Location {
            file: file.to_path_buf(),
            line,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}", self.file.display(), self.line)
        }
    }
}

/// One configuration error: where it is and what is wrong (the message says what to do).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{location}: {kind}")]
pub struct ConfigError {
    /// File and line of the offending text.
    pub location: Location,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl ConfigError {
    /// An error of `kind` at `line` of `file`.
    pub fn new(file: &Path, line: u32, kind: ErrorKind) -> Self {
        ConfigError {
            location: Location::new(file, line),
            kind,
        }
    }
}

/// A problem that does not stop loading but that the user should know about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// File and line the warning is about.
    pub location: Location,
    /// The message, saying what to do.
    pub message: String,
}

impl Warning {
    /// A warning at `line` of `file`.
    pub fn new(file: &Path, line: u32, message: impl Into<String>) -> Self {
        Warning {
            location: Location::new(file, line),
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: warning: {}", self.location, self.message)
    }
}

/// Everything that can be wrong in `oebb.cfg`, the workers file or a manifest.
///
/// The fields are the pieces of the message; each variant's message names them.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    // --- reading files
    /// The file could not be read.
    #[error("cannot read the file ({reason}); check that it exists and is readable")]
    Unreadable { reason: String },
    /// A FIFO, a device, a directory… where a file was expected.
    #[error("this is {what}, not a regular file; give the path of a configuration file")]
    NotAFile { what: String },
    /// A file beyond the size limit.
    #[error("the file is larger than {limit} bytes, far beyond any configuration file; give the right file")]
    FileTooLarge { limit: u64 },
    /// So many errors that the rest is not worth reading.
    #[error("more than {limit} errors, the rest is not shown; is this the right file?")]
    TooManyErrors { limit: usize },
    /// The file is not UTF-8.
    #[error("the line is not valid UTF-8; save the file as UTF-8")]
    NotUtf8,
    /// Both `slaves.cfg` and `workers.cfg` exist.
    #[error(
        "both slaves.cfg and workers.cfg exist in the master directory; keep only one of them"
    )]
    TwoWorkerFiles,

    // --- INI syntax
    /// An option or continuation line came before the first `[section]`.
    #[error("`{text}` comes before any [section] header; add a section header above it")]
    BeforeSection { text: String },
    /// An indented line with no option to continue.
    #[error("indented line `{text}` continues no option; remove the indentation or put an option before it")]
    DanglingContinuation { text: String },
    /// A line starting with `[` that is not `[name]`.
    #[error("malformed section header `{text}`; write it as [name]")]
    BadSectionHeader { text: String },
    /// A line that is neither a header, an option nor a comment.
    #[error("`{text}` is not an option; write `name = value` or `name: value`, or start a comment with # or ;")]
    NotAnOption { text: String },
    /// `= value` without a name.
    #[error("option with an empty name; write `name = value`")]
    EmptyOptionName,
    /// A section defined twice in one file.
    #[error("section [{name}] is already defined at line {first_line}; merge the two sections or rename one")]
    DuplicateSection { name: String, first_line: u32 },
    /// An option given twice in one section.
    #[error("option `{name}` is already set in section [{section}] at line {first_line}; keep only one of them")]
    DuplicateOption {
        name: String,
        section: String,
        first_line: u32,
    },
    /// `%(name)s` naming an option that does not exist.
    #[error("`%({name})s` in option `{option}` names no option of section [{section}] or [DEFAULT]; define `{name}`, or write %% for a literal %")]
    UnknownInterpolation {
        name: String,
        option: String,
        section: String,
    },
    /// A `%` that is neither `%%` nor `%(name)s`.
    #[error("malformed interpolation in option `{option}`: `{text}`; write %(name)s, or %% for a literal %")]
    BadInterpolation { option: String, text: String },
    /// `%(a)s` refers back to itself through other options.
    #[error("interpolation loop in option `{option}`: {chain}; break the loop")]
    InterpolationLoop { option: String, chain: String },
    /// References nested deeper than the limit (Python's ConfigParser allows 10).
    #[error("interpolation of option `{option}` nests deeper than {limit} references ({chain}); reference the values more directly")]
    InterpolationTooDeep {
        option: String,
        chain: String,
        limit: usize,
    },
    /// Interpolation makes a value longer than the limit (nested references multiply).
    #[error("interpolation makes option `{option}` longer than {limit} bytes ({chain}); use fewer nested %(name)s references")]
    InterpolationTooLong {
        option: String,
        chain: String,
        limit: usize,
    },
    /// The sections of one file resolve to more than the limit (`[DEFAULT]` is copied into
    /// every section).
    #[error("resolving section [{section}] brings the sections of this file past {limit} bytes of options; make [DEFAULT] and the interpolations smaller, or split the file")]
    ResolvedTooLarge { section: String, limit: usize },

    // --- versions and requirements
    /// A version that does not parse.
    #[error("invalid version `{text}`: {reason}")]
    BadVersion { text: String, reason: String },
    /// A requirement (`build-for`, `build-requires`) that does not parse.
    #[error("invalid requirement `{text}` in `{option}`: {reason}")]
    BadRequirement {
        option: String,
        text: String,
        reason: String,
    },

    // --- workers
    /// A worker without password.
    #[error("worker [{worker}] has no password; add `password = …`")]
    MissingPassword { worker: String },
    /// `password` and `passwd` both set.
    #[error("worker [{worker}] sets both `password` and `passwd`; keep only `password`")]
    TwoPasswords { worker: String },
    /// A worker or buildout name that cannot be used in builder names, URLs and database names.
    #[error("name `{name}` contains {what}; use letters, digits, `.`, `_` and `-`")]
    BadName { name: String, what: String },
    /// A capability line that does not parse.
    #[error("invalid capability line `{text}`: {reason}")]
    BadCapability { text: String, reason: String },
    /// The same capability version declared twice for one worker.
    #[error("capability `{name} {version}` is already declared at line {first_line}; merge the two lines")]
    DuplicateCapability {
        name: String,
        version: String,
        first_line: u32,
    },
    /// A 2012-form `pg_*` option without `pg_version`.
    #[error("`{option}` needs `pg_version` in the same worker section; add `pg_version = …` or use `capability = postgresql VERSION port=…`")]
    PgOptionWithoutVersion { option: String },
    /// An option name with whitespace: usually a continuation line that lost its indentation.
    #[error("option name `{name}` contains whitespace; if this line continues the previous value, indent it")]
    SpacedOptionName { name: String },
    /// An address that is not `user@host`.
    #[error("`{value}` in `{option}` is not a mail address; write user@host, several separated by spaces or commas")]
    BadMailAddress { option: String, value: String },

    // --- values
    /// A value that should be an integer.
    #[error("`{option}` must be {expected}, not `{value}`")]
    BadNumber {
        option: String,
        value: String,
        expected: String,
    },
    /// A value that should be a boolean.
    #[error("`{option}` must be `true` or `false`, not `{value}`")]
    BadBool { option: String, value: String },
    /// A required value that is empty.
    #[error("`{option}` is empty; {hint}")]
    EmptyValue { option: String, hint: String },

    // --- buildouts
    /// An unknown `buildout` type.
    #[error("buildout type `{kind}` is not supported; use one of {valid}")]
    UnknownBuildoutType { kind: String, valid: String },
    /// Wrong number or kind of tokens for a buildout type.
    #[error("`buildout = {text}` is malformed; write `buildout = {syntax}`")]
    BadBuildoutSpec { text: String, syntax: String },
    /// A malformed `watch` line.
    #[error("watch line `{text}` is malformed: {reason}")]
    BadWatch { text: String, reason: String },
    /// An unknown step name in a steps list.
    #[error("unknown step `{name}` in `{option}`; use one of {valid}")]
    UnknownStep {
        option: String,
        name: String,
        valid: String,
    },
    /// A step needs an option that is not set.
    #[error("step `{step}` needs option `{needed}`; add it to section [{section}]")]
    MissingStepOption {
        step: String,
        needed: String,
        section: String,
    },
    /// Both `openerp-addons` and `odoo-addons` are set.
    #[error("both `openerp-addons` and `odoo-addons` are set; keep only one")]
    TwoAddonsOptions,
    /// Two `build-for` lines about one capability.
    #[error("`build-for` names capability `{capability}` twice; put all its versions on one line, e.g. `{capability} >= 9.1 OR == 8.4`")]
    DuplicateBuildFor { capability: String },
    /// `not-used` in `build-requires`.
    #[error("`{text}` in `build-requires`: `not-used` only makes sense in `build-for`")]
    NotUsedInRequires { text: String },
    /// `inherit` names an unknown section.
    #[error("`inherit = {parent}` names no section of this manifest; fix the name")]
    UnknownParent { parent: String },
    /// `inherit` loops.
    #[error("inheritance loop: {chain}; remove one of these `inherit` options")]
    InheritLoop { chain: String },
    /// An `inherit` chain longer than the limit.
    #[error("[{section}] inherits through more than {limit} sections, up to [{root}]; inherit from fewer levels")]
    InheritTooDeep {
        section: String,
        root: String,
        limit: usize,
    },
    /// The same buildout section in two manifests.
    #[error("buildout [{name}] is already defined at {first}; rename one of them")]
    DuplicateBuildout { name: String, first: String },
    /// Two builders with the same name.
    #[error("builder name `{name}` is made by buildouts [{first}] and [{second}]; rename one of the sections")]
    DuplicateBuilder {
        name: String,
        first: String,
        second: String,
    },

    // --- oebb.cfg
    /// An unknown section in `oebb.cfg`.
    #[error("unknown section [{name}]; the valid sections are {valid}")]
    UnknownSection { name: String, valid: String },
    /// An unknown option in a section of `oebb.cfg`.
    #[error("unknown option `{name}` in section [{section}]; the valid options are {valid}")]
    UnknownOption {
        name: String,
        section: String,
        valid: String,
    },
    /// A web user's password written in clear instead of as an argon2 hash.
    #[error("the password of web user `{user}` is not an argon2 hash ($argon2id$…); run `oebb passwd {dir} {user}` to set it")]
    PlainPassword { user: String, dir: String },
    /// The relay's password written in `oebb.cfg`.
    #[error("a password in clear is refused in oebb.cfg; write it alone in a file readable only by the master's user and name that file in `password-file`")]
    MailPasswordInClear,
    /// A mail rule names a builder or category the configuration does not have.
    #[error(
        "mail rule names {what} `{name}`, which does not exist ({hint}); correct or remove it"
    )]
    UnknownMailTarget {
        what: String,
        name: String,
        hint: String,
    },
    /// A `[mail:NAME]` rule without `[mail]`.
    #[error("[mail:{name}] needs a [mail] section with the relay and the sender (`from`)")]
    MailRuleWithoutMail { name: String },
    /// A value of `oebb.cfg` that is wrong.
    #[error("`{option}` = `{value}` is invalid: {reason}")]
    BadSetting {
        option: String,
        value: String,
        reason: String,
    },
}
