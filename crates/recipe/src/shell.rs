//! Shell quoting and the worker paths the steps share (public so `oebb check --steps` prints
//! command lines the way the steps are written).

/// The builder's absolute directory on the worker (build property set by step `builddir`).
pub const BUILDDIR: &str = "%(prop:builddir)s";

/// A per-worker cache directory: `<basedir>/caches/<name>`.
pub fn cache(name: &str) -> String {
    format!("{BUILDDIR}/../caches/{name}")
}

/// An absolute path inside the buildout directory `build`.
pub fn in_build(path: &str) -> String {
    format!("{BUILDDIR}/build/{path}")
}

/// `text` as one shell word: unchanged when it is plainly safe, else single-quoted.
pub fn quote(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_./:=@%+,-".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// The words joined into one shell command line.
pub fn line(words: &[String]) -> String {
    words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

/// A manifest value written with anybox's `$(name)s` property placeholders, in oebb's
/// `%(prop:name)s` form (`%` could not be written in the manifest: ConfigParser eats it).
pub fn properties_of_manifest(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("$(") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find(")s") {
            Some(end) => {
                out.push_str(&format!("%(prop:{})s", &after[..end]));
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_leaves_plain_words_and_quotes_the_rest() {
        assert_eq!(quote("bin/buildout"), "bin/buildout");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("%(prop:x)s"), "'%(prop:x)s'");
    }

    #[test]
    fn manifest_placeholders_become_properties() {
        assert_eq!(
            properties_of_manifest("/srv/doc/$(buildout-tag)s/x"),
            "/srv/doc/%(prop:buildout-tag)s/x"
        );
        assert_eq!(properties_of_manifest("plain"), "plain");
        assert_eq!(properties_of_manifest("$(open"), "$(open");
    }
}
