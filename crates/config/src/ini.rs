//! INI reader with Python `ConfigParser` semantics, because users' files were written for it.
//!
//! `[DEFAULT]` is merged into every section and is never a section itself; `%(name)s`
//! interpolation and `%%`; indented continuation lines; `#` and `;` full-line comments (and `;`
//! after whitespace on an option line, as Python 2 did); `key = value` and `key: value`;
//! case-insensitive option names. Duplicate sections or options are errors (Python 2 merged them
//! silently, which hid typos).

use crate::error::{ConfigError, ErrorKind};
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

mod interpolation;

use interpolation::Interpolator;
pub use interpolation::MAX_VALUE_BYTES;

/// One option as written: lower-cased name, value (continuation lines joined by `\n`), line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opt {
    /// Lower-cased option name.
    pub name: String,
    /// Value; continuation lines are stripped and joined with `\n`.
    pub value: String,
    /// Line of the `name = value` line.
    pub line: u32,
    /// Whether the option comes from `[DEFAULT]` rather than from the section (or its parents).
    pub from_default: bool,
}

impl Opt {
    /// The non-empty lines of the value, stripped.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        value_lines(&self.value)
    }
}

/// The non-empty, stripped lines of a multi-line value.
pub fn value_lines(value: &str) -> impl Iterator<Item = &str> {
    value.lines().map(str::trim).filter(|l| !l.is_empty())
}

/// One `[section]` with its own options, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// The name between the brackets, stripped.
    pub name: String,
    /// Line of the header.
    pub line: u32,
    /// Options written in this section (not `[DEFAULT]`'s).
    pub options: Vec<Opt>,
}

impl Section {
    /// The option `name` (lower-case) of this section, if written here.
    pub fn get(&self, name: &str) -> Option<&Opt> {
        self.options.iter().find(|o| o.name == name)
    }
}

/// A section's options after `[DEFAULT]`, parents and interpolation are applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Own options first, then those of each parent, then `[DEFAULT]`'s.
    pub options: Vec<Opt>,
}

impl Resolved {
    /// The option `name` (lower-case), if set anywhere in the chain.
    pub fn get(&self, name: &str) -> Option<&Opt> {
        self.options.iter().find(|o| o.name == name)
    }

    /// The value of `name`, if set.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).map(|o| o.value.as_str())
    }
}

/// A parsed INI file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ini {
    /// The file the text came from, for error messages.
    pub path: PathBuf,
    /// Options of `[DEFAULT]`.
    pub defaults: Vec<Opt>,
    /// Every other section, in file order.
    pub sections: Vec<Section>,
    /// Index in `sections` by name.
    index: HashMap<String, usize>,
    /// Bytes the resolved sections of this file have cost so far (see [`MAX_RESOLVED_BYTES`]).
    resolved_bytes: Cell<usize>,
}

/// What resolving every section of one file may cost, in bytes of resolved options: every
/// section gets a copy of `[DEFAULT]`, so a few thousand sections and options make a product
/// that a short file can drive into gigabytes.
pub const MAX_RESOLVED_BYTES: usize = 64 * 1024 * 1024;

/// Syntax errors reported per file before reading stops: a file that is not INI at all would
/// give one per line.
pub const MAX_ERRORS: usize = 100;

/// What one resolved option costs beyond its name and value.
const OPTION_COST: usize = 64;

/// What one resolved section costs beyond its options: the worker or buildout made of it.
const SECTION_COST: usize = 1024;

impl Ini {
    /// Parses raw bytes; lines that are not UTF-8 are errors.
    pub fn parse_bytes(path: &Path, bytes: &[u8]) -> (Ini, Vec<ConfigError>) {
        match std::str::from_utf8(bytes) {
            Ok(text) => Ini::parse(path, text),
            Err(e) => {
                let valid = &bytes[..e.valid_up_to()];
                let line = valid.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
                let text = String::from_utf8_lossy(bytes);
                let (ini, mut errors) = Ini::parse(path, &text);
                errors.insert(0, ConfigError::new(path, line, ErrorKind::NotUtf8));
                (ini, errors)
            }
        }
    }

    /// Parses text, collecting every error; what could be read is returned anyway.
    pub fn parse(path: &Path, text: &str) -> (Ini, Vec<ConfigError>) {
        let mut ini = Ini {
            path: path.to_path_buf(),
            defaults: Vec::new(),
            sections: Vec::new(),
            index: HashMap::new(),
            resolved_bytes: Cell::new(0),
        };
        // The lines of each option name per target, so a file of many options stays linear.
        let mut seen: HashMap<(Target, String), u32> = HashMap::new();
        let mut errors = Vec::new();
        let err = |line: u32, kind| ConfigError::new(path, line, kind);
        // Which option list receives options: None before the first header.
        let mut current: Option<Target> = None;
        let mut default_line: Option<u32> = None;
        // Index of the option that indented lines continue, if any.
        let mut continued: Option<usize> = None;
        // After a bad line, its indented followers are ignored rather than reported again.
        let mut skipping = false;
        // Windows editors may start the file with a byte-order mark.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (index, raw) in text.split('\n').enumerate() {
            let line_no = index as u32 + 1;
            if errors.len() >= MAX_ERRORS {
                errors.push(err(line_no, ErrorKind::TooManyErrors { limit: MAX_ERRORS }));
                break;
            }
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            let trimmed = line.trim();
            if trimmed.is_empty() {
                continue;
            }
            let first = line.chars().next().unwrap_or(' ');
            if first == '#' || first == ';' {
                continue;
            }
            if first.is_whitespace() {
                if trimmed.starts_with('#') || trimmed.starts_with(';') || skipping {
                    continue;
                }
                match (&current, continued) {
                    (Some(target), Some(i)) => {
                        let opt = &mut ini.options_mut(*target)[i];
                        opt.value.push('\n');
                        opt.value.push_str(trimmed);
                    }
                    (None, _) => {
                        errors.push(err(
                            line_no,
                            ErrorKind::BeforeSection {
                                text: excerpt(trimmed),
                            },
                        ));
                        skipping = true;
                    }
                    (Some(_), None) => {
                        errors.push(err(
                            line_no,
                            ErrorKind::DanglingContinuation {
                                text: excerpt(trimmed),
                            },
                        ));
                        skipping = true;
                    }
                }
                continue;
            }
            skipping = false;
            continued = None;
            if first == '[' {
                match parse_header(line) {
                    Some(name) if name == "DEFAULT" => {
                        if let Some(first_line) = default_line {
                            errors.push(err(
                                line_no,
                                ErrorKind::DuplicateSection { name, first_line },
                            ));
                            skipping = true;
                        } else {
                            default_line = Some(line_no);
                            current = Some(Target::Defaults);
                        }
                    }
                    Some(name) => {
                        if let Some(&prev) = ini.index.get(&name) {
                            errors.push(err(
                                line_no,
                                ErrorKind::DuplicateSection {
                                    name,
                                    first_line: ini.sections[prev].line,
                                },
                            ));
                            // The duplicate's options are dropped; report them no further.
                            skipping = true;
                        } else {
                            ini.index.insert(name.clone(), ini.sections.len());
                            ini.sections.push(Section {
                                name,
                                line: line_no,
                                options: Vec::new(),
                            });
                            current = Some(Target::Section(ini.sections.len() - 1));
                        }
                    }
                    None => {
                        errors.push(err(
                            line_no,
                            ErrorKind::BadSectionHeader {
                                text: excerpt(trimmed),
                            },
                        ));
                        skipping = true;
                    }
                }
                if skipping {
                    current = Some(Target::Discard);
                }
                continue;
            }
            let Some(delim) = line.find(['=', ':']) else {
                errors.push(err(
                    line_no,
                    ErrorKind::NotAnOption {
                        text: excerpt(trimmed),
                    },
                ));
                skipping = true;
                continue;
            };
            let name = line[..delim].trim().to_lowercase();
            let value = strip_inline_comment(line[delim + 1..].trim()).to_string();
            if name.is_empty() {
                errors.push(err(line_no, ErrorKind::EmptyOptionName));
                skipping = true;
                continue;
            }
            let Some(target) = current else {
                errors.push(err(
                    line_no,
                    ErrorKind::BeforeSection {
                        text: excerpt(trimmed),
                    },
                ));
                skipping = true;
                continue;
            };
            if target == Target::Discard {
                skipping = true;
                continue;
            }
            let section_name = match target {
                Target::Section(i) => ini.sections[i].name.clone(),
                _ => "DEFAULT".to_string(),
            };
            if let Some(&first_line) = seen.get(&(target, name.clone())) {
                errors.push(err(
                    line_no,
                    ErrorKind::DuplicateOption {
                        name,
                        section: section_name,
                        first_line,
                    },
                ));
                skipping = true;
                continue;
            }
            seen.insert((target, name.clone()), line_no);
            let from_default = target == Target::Defaults;
            let options = ini.options_mut(target);
            options.push(Opt {
                name,
                value,
                line: line_no,
                from_default,
            });
            continued = Some(options.len() - 1);
        }
        (ini, errors)
    }

    fn options_mut(&mut self, target: Target) -> &mut Vec<Opt> {
        match target {
            Target::Section(i) => &mut self.sections[i].options,
            Target::Defaults | Target::Discard => &mut self.defaults,
        }
    }

    /// The section named `name`, if any (`DEFAULT` is never one).
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.index.get(name).map(|&i| &self.sections[i])
    }

    /// Options of `chain[0]` with those of its parents `chain[1..]` and `[DEFAULT]` filling the
    /// gaps, every value interpolated against that same chain. Once the sections of this file
    /// have cost [`MAX_RESOLVED_BYTES`], a section resolves to nothing and an error.
    pub fn resolve(&self, chain: &[&Section]) -> (Resolved, Vec<ConfigError>) {
        let section_name = chain.first().map_or("DEFAULT", |s| s.name.as_str());
        // Every path out records what was spent, so a file past its bound costs nothing more.
        let too_large = |spent: usize| {
            self.resolved_bytes.set(spent);
            let line = chain.first().map_or(0, |s| s.line);
            let kind = ErrorKind::ResolvedTooLarge {
                section: section_name.to_string(),
                limit: MAX_RESOLVED_BYTES,
            };
            let nothing = Resolved {
                options: Vec::new(),
            };
            (nothing, vec![ConfigError::new(&self.path, line, kind)])
        };
        let mut spent = self.resolved_bytes.get().saturating_add(SECTION_COST);
        let written = || chain.iter().flat_map(|s| &s.options).chain(&self.defaults);
        let mut options: Vec<Opt> = Vec::new();
        let mut names: HashSet<&str> = HashSet::new();
        for opt in written() {
            if spent > MAX_RESOLVED_BYTES {
                return too_large(spent);
            }
            if names.insert(&opt.name) {
                spent = spent.saturating_add(opt.name.len() + opt.value.len() + OPTION_COST);
                options.push(opt.clone());
            }
        }
        self.resolved_bytes.set(spent);
        let mut errors = Vec::new();
        let mut interpolator =
            Interpolator::new(written().map(|o| (o.name.as_str(), o.value.as_str())));
        for opt in &mut options {
            if spent.saturating_add(interpolator.made()) > MAX_RESOLVED_BYTES {
                return too_large(spent.saturating_add(interpolator.made()));
            }
            if !opt.value.contains('%') {
                continue;
            }
            match interpolator.expand(&opt.name, &opt.value) {
                Ok(v) => {
                    spent = spent.saturating_add(v.len());
                    opt.value = v;
                }
                Err(kind) => {
                    let kind = match kind {
                        ErrorKind::UnknownInterpolation { name, .. } => {
                            ErrorKind::UnknownInterpolation {
                                name,
                                option: opt.name.clone(),
                                section: section_name.to_string(),
                            }
                        }
                        other => other,
                    };
                    errors.push(ConfigError::new(&self.path, opt.line, kind));
                }
            }
        }
        spent = spent.saturating_add(interpolator.made());
        self.resolved_bytes.set(spent);
        if spent > MAX_RESOLVED_BYTES {
            return too_large(spent);
        }
        (Resolved { options }, errors)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Target {
    Defaults,
    Section(usize),
    /// Options of a rejected (duplicate) section: read and dropped.
    Discard,
}

/// The start of a bad line, for its error message: a line may be megabytes long.
fn excerpt(line: &str) -> String {
    const SHOWN: usize = 80;
    match line.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line.to_string(),
    }
}

/// `[name]`, optionally followed by a comment; None when malformed.
fn parse_header(line: &str) -> Option<String> {
    let close = line.find(']')?;
    let name = line[1..close].trim();
    let rest = line[close + 1..].trim();
    if name.is_empty() || name.contains('[') {
        return None;
    }
    if !rest.is_empty() && !rest.starts_with('#') && !rest.starts_with(';') {
        return None;
    }
    Some(name.to_string())
}

/// Python 2 cut `;` comments on option lines when the `;` followed whitespace.
fn strip_inline_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b';' && i > 0 && (bytes[i - 1] == b' ' || bytes[i - 1] == b'\t') {
            return value[..i].trim_end();
        }
    }
    value
}

#[cfg(test)]
mod tests;
