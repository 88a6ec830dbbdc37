//! The lines that say why a command failed, by the program that writes them.

/// Longest message kept from one line, in bytes.
const MAX_MESSAGE: usize = 500;

/// What a line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// zc.buildout's `While:`, followed by indented lines saying what it was doing.
    While,
    /// zc.buildout's "An internal error occurred…": a traceback follows.
    BuildoutInternalError,
    /// zc.buildout's `Error: …`.
    BuildoutError(String),
    /// pip's `ERROR: …`, setuptools' `error: …`.
    Pip(String),
    /// A PostgreSQL client's `createdb: error: …`, or the server's `ERROR:  …` in psql.
    Postgresql(String),
    /// `fatal: …` (git), `abort: …` (hg), `brz: ERROR: …` (Breezy, Bazaar).
    Vcs(String),
}

/// The PostgreSQL client programs whose errors start with their name.
const PG_PROGRAMS: [&str; 10] = [
    "psql",
    "createdb",
    "dropdb",
    "createuser",
    "dropuser",
    "pg_dump",
    "pg_dumpall",
    "pg_restore",
    "pg_ctl",
    "initdb",
];

/// Classifies one line of output.
pub fn classify(line: &str) -> Option<Pattern> {
    let trimmed = line.trim_end();
    if trimmed == "While:" {
        return Some(Pattern::While);
    }
    if trimmed.starts_with("An internal error occurred due to a bug in either zc.buildout") {
        return Some(Pattern::BuildoutInternalError);
    }
    if trimmed.starts_with("Error: ") {
        return Some(Pattern::BuildoutError(message(trimmed)));
    }
    if is_postgresql(trimmed) {
        return Some(Pattern::Postgresql(message(trimmed)));
    }
    if trimmed.starts_with("ERROR: ") || trimmed.starts_with("error: ") {
        return Some(Pattern::Pip(message(trimmed)));
    }
    if ["fatal: ", "abort: ", "brz: ERROR: ", "bzr: ERROR: "]
        .iter()
        .any(|p| trimmed.starts_with(p))
    {
        return Some(Pattern::Vcs(message(trimmed)));
    }
    None
}

fn is_postgresql(line: &str) -> bool {
    // psql prints the server's messages with two spaces after the severity.
    if line.starts_with("ERROR:  ") || line.starts_with("FATAL:  ") {
        return true;
    }
    PG_PROGRAMS.iter().any(|p| {
        line.strip_prefix(p)
            .is_some_and(|rest| rest.starts_with(": ") || rest.starts_with(" error: "))
    })
}

/// Lines the worker and the master add around a command's output: never a cause.
pub fn is_noise(line: &str) -> bool {
    let prefixes = [
        "elapsedTime=",
        "program finished with exit code",
        " in dir ",
        " watching logfiles ",
        " argv: ",
        " using PTY: ",
        " environment",
        "locks ",
        "step timeout: ",
    ];
    prefixes.iter().any(|p| line.starts_with(p))
}

/// A line as a message: trimmed and at most [`MAX_MESSAGE`] bytes.
pub fn message(line: &str) -> String {
    let line = line.trim();
    if line.len() <= MAX_MESSAGE {
        return line.to_string();
    }
    let mut end = MAX_MESSAGE;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}
