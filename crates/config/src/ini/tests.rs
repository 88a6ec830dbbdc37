use super::*;
use crate::testutil::{ini, strings};
use proptest::prelude::*;

fn resolved(text: &str, section: &str) -> Resolved {
    let ini = ini(text);
    let s = ini.section(section).unwrap();
    let (r, errors) = ini.resolve(&[s]);
    assert_eq!(strings(&errors), Vec::<String>::new());
    r
}

fn value(text: &str, section: &str, option: &str) -> String {
    resolved(text, section)
        .value(option)
        .unwrap_or_else(|| panic!("no {option}"))
        .to_string()
}

#[test]
fn default_is_merged_into_every_section_and_is_no_section() {
    let text = "[DEFAULT]\na = 1\nb = 2\n[s]\nb = 3\n[t]\n";
    let ini = ini(text);
    assert_eq!(
        ini.sections
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["s", "t"]
    );
    assert_eq!(value(text, "s", "a"), "1");
    assert_eq!(value(text, "s", "b"), "3");
    assert_eq!(value(text, "t", "b"), "2");
    let r = resolved(text, "s");
    assert!(!r.get("b").unwrap().from_default);
    assert!(r.get("a").unwrap().from_default);
}

#[test]
fn both_separators_and_names_are_case_insensitive() {
    let text = "[s]\nName: one\nOther=two:three\n";
    assert_eq!(value(text, "s", "name"), "one");
    assert_eq!(value(text, "s", "other"), "two:three");
    assert_eq!(ini(text).sections[0].options[0].name, "name");
}

#[test]
fn continuation_lines_are_stripped_and_joined_skipping_blanks_and_comments() {
    let text = "[s]\ncapability = postgresql 9.1 port=5432\n\n    python 2.6\n\t     selenium\n    # not a value\nmax = 2\n";
    assert_eq!(
        value(text, "s", "capability"),
        "postgresql 9.1 port=5432\npython 2.6\nselenium"
    );
    assert_eq!(value(text, "s", "max"), "2");
}

#[test]
fn empty_first_line_of_a_multi_line_value_is_kept_out_of_lines() {
    let text = "[s]\nbuild-for =\n    postgresql\n    python\n";
    let r = resolved(text, "s");
    assert_eq!(
        r.get("build-for").unwrap().lines().collect::<Vec<_>>(),
        ["postgresql", "python"]
    );
}

#[test]
fn comments_are_skipped_and_semicolon_after_space_ends_a_value() {
    let text = "# top\n; also\n[s] # header comment\na = x ;comment\nb = y;z\n";
    assert_eq!(value(text, "s", "a"), "x");
    assert_eq!(value(text, "s", "b"), "y;z");
}

#[test]
fn a_byte_order_mark_is_ignored() {
    assert_eq!(value("\u{feff}[s]\na = 1\n", "s", "a"), "1");
}

#[test]
fn crlf_line_ends_are_accepted() {
    assert_eq!(value("[s]\r\na = 1\r\n  b\r\n", "s", "a"), "1\nb");
}

#[test]
fn interpolation_uses_section_then_default() {
    let text = "[DEFAULT]\nroot = /srv\nlog = %(root)s/%(name)s.log\n[s]\nname = odoo\n";
    assert_eq!(value(text, "s", "log"), "/srv/odoo.log");
}

#[test]
fn interpolation_names_are_case_insensitive_and_nest() {
    let text = "[s]\na = %(B)s!\nb = <%(c)s>\nc = x\n";
    assert_eq!(value(text, "s", "a"), "<x>!");
}

#[test]
fn double_percent_is_a_percent_and_lone_percent_is_kept() {
    assert_eq!(
        value("[s]\na = 100%% of %(b)s\nb = x\n", "s", "a"),
        "100% of x"
    );
    assert_eq!(value("[s]\na = 100%\n", "s", "a"), "100%");
    assert_eq!(
        value("[s]\na = $(buildout-tag)s\n", "s", "a"),
        "$(buildout-tag)s"
    );
}

#[test]
fn resolve_looks_in_parents_before_default() {
    let ini = ini("[DEFAULT]\nx = d\ny = d\n[p]\nx = p\nz = %(w)s\n[c]\nw = c\n");
    let chain = [ini.section("c").unwrap(), ini.section("p").unwrap()];
    let (r, errors) = ini.resolve(&chain);
    assert!(errors.is_empty());
    assert_eq!(r.value("x"), Some("p"));
    assert_eq!(r.value("y"), Some("d"));
    assert_eq!(r.value("z"), Some("c"));
}

/// Syntax errors: every one is reported with file:line and what to do.
#[test]
fn bad_syntax_is_reported_with_file_line_and_message() {
    let cases: &[(&str, &str)] = &[
        ("key = v\n", "t.cfg:1: `key = v` comes before any [section] header; add a section header above it"),
        ("\n  indented\n", "t.cfg:2: `indented` comes before any [section] header; add a section header above it"),
        ("[a]\n  cont\n", "t.cfg:2: indented line `cont` continues no option; remove the indentation or put an option before it"),
        ("[a\n", "t.cfg:1: malformed section header `[a`; write it as [name]"),
        ("[]\n", "t.cfg:1: malformed section header `[]`; write it as [name]"),
        ("[a] junk\n", "t.cfg:1: malformed section header `[a] junk`; write it as [name]"),
        ("[a]\njunk line\n", "t.cfg:2: `junk line` is not an option; write `name = value` or `name: value`, or start a comment with # or ;"),
        ("[a]\n= v\n", "t.cfg:2: option with an empty name; write `name = value`"),
        ("[a]\nx = 1\n[a]\ny = 2\n", "t.cfg:3: section [a] is already defined at line 1; merge the two sections or rename one"),
        ("[DEFAULT]\n[b]\n[DEFAULT]\n", "t.cfg:3: section [DEFAULT] is already defined at line 1; merge the two sections or rename one"),
        ("[a]\nx = 1\n\nX = 2\n", "t.cfg:4: option `x` is already set in section [a] at line 2; keep only one of them"),
    ];
    for (text, expected) in cases {
        let (_, errors) = Ini::parse(Path::new("t.cfg"), text);
        assert_eq!(strings(&errors), [*expected], "input {text:?}");
    }
}

#[test]
fn bad_interpolations_are_reported_at_the_option_line() {
    let cases: &[(&str, &str)] = &[
        ("[a]\n\nx = %(y)s\n", "t.cfg:3: `%(y)s` in option `x` names no option of section [a] or [DEFAULT]; define `y`, or write %% for a literal %"),
        ("[a]\nx = %(y\n", "t.cfg:2: malformed interpolation in option `x`: `%(y`; write %(name)s, or %% for a literal %"),
        ("[a]\nx = %(y)d\ny = 1\n", "t.cfg:2: malformed interpolation in option `x`: `%(y)d`; write %(name)s, or %% for a literal %"),
        ("[a]\nx = %(y)s\ny = %(x)s\n", "t.cfg:2: interpolation loop in option `x`: x → y → x; break the loop"),
        ("[a]\nx = %(x)s\n", "t.cfg:2: interpolation loop in option `x`: x → x; break the loop"),
    ];
    for (text, expected) in cases {
        let ini = ini(text);
        let (_, errors) = ini.resolve(&[&ini.sections[0]]);
        assert_eq!(strings(&errors)[0], *expected, "input {text:?}");
    }
}

#[test]
fn every_error_of_a_file_is_reported_not_only_the_first() {
    let (ini, errors) = Ini::parse(Path::new("t.cfg"), "x = 1\n[a]\nbad\ny = 1\ny = 2\n[a]\n");
    assert_eq!(
        errors.iter().map(|e| e.location.line).collect::<Vec<_>>(),
        [1, 3, 5, 6]
    );
    assert_eq!(ini.sections[0].get("y").unwrap().value, "1");
}

#[test]
fn invalid_utf8_is_reported_at_its_line() {
    let (ini, errors) = Ini::parse_bytes(Path::new("t.cfg"), b"[a]\nx = 1\ny = \xff\n");
    assert_eq!(
        strings(&errors),
        ["t.cfg:3: the line is not valid UTF-8; save the file as UTF-8"]
    );
    assert_eq!(ini.sections[0].get("x").unwrap().value, "1");
}

proptest! {
    #[test]
    fn arbitrary_bytes_give_errors_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let (ini, _) = Ini::parse_bytes(Path::new("f.cfg"), &bytes);
        for s in &ini.sections {
            let _ = ini.resolve(&[s]);
        }
    }

    #[test]
    fn ini_like_text_never_panics(text in "([\\[\\] =:%()s#;a-z\\t]{0,12}\n){0,30}") {
        let (ini, errors) = Ini::parse(Path::new("f.cfg"), &text);
        for e in &errors {
            prop_assert!(e.location.line >= 1);
        }
        for s in &ini.sections {
            let _ = ini.resolve(&[s]);
        }
    }
}
