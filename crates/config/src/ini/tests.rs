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

/// Ten options each naming the previous one ten times: 2·10¹⁰ bytes asked for by a 2.5 KB
/// file. The values that would pass the limit are errors at their lines, the others are kept.
#[test]
fn nested_references_that_multiply_stop_at_the_value_limit() {
    let mut text = String::from("[DEFAULT]\na0 = ha\n");
    for i in 1..=10 {
        text.push_str(&format!(
            "a{i} = {}\n",
            format!("%(a{})s", i - 1).repeat(10)
        ));
    }
    for s in 0..40 {
        text.push_str(&format!("[s{s}]\nx = %(a9)s\n"));
    }
    assert!(text.len() < 2600, "{} bytes", text.len());
    let ini = ini(&text);
    let (r, errors) = ini.resolve(&[ini.section("s0").unwrap()]);
    // a5 (200,000 bytes) is the first past 64 KiB; a6..a10 and x contain it.
    assert_eq!(
        errors.iter().map(|e| e.location.line).collect::<Vec<_>>(),
        [14, 7, 8, 9, 10, 11, 12]
    );
    assert_eq!(
        errors[0].to_string(),
        "t.cfg:14: interpolation makes option `x` longer than 65536 bytes (x → a9 → a8 → a7 \
         → a6 → a5); use fewer nested %(name)s references"
    );
    assert_eq!(r.value("a4").map(str::len), Some(20_000));
    for s in &ini.sections {
        let (_, errors) = ini.resolve(&[s]);
        assert_eq!(errors.len(), 7);
    }
}

/// Python's ConfigParser stops at ten nested references; so does oebb, without calling it a loop.
#[test]
fn references_nested_too_deep_are_an_error() {
    let mut text = String::from("[s]\na0 = x\n");
    for i in 1..=11 {
        text.push_str(&format!("a{i} = %(a{})s\n", i - 1));
    }
    let first = format!("[s]\nx = %(a11)s\n{}", &text[4..]);
    let ini = ini(&text);
    let (r, errors) = ini.resolve(&[&ini.sections[0]]);
    // a1..a10 have been expanded when a11's turn comes: it errs all the same.
    assert_eq!(
        strings(&errors),
        [
            "t.cfg:13: interpolation of option `a11` nests deeper than 10 references (a11 → a10 → \
          a9 → …); reference the values more directly"
        ]
    );
    assert_eq!(r.value("a10"), Some("x"));
    let other = crate::testutil::ini(&first);
    let (_, errors) = other.resolve(&[&other.sections[0]]);
    assert_eq!(
        strings(&errors),
        [
            "t.cfg:2: interpolation of option `x` nests deeper than 10 references (x → a11 → a10 \
             → a9 → a8 → a7 → a6 → a5 → a4 → a3 → a2 → a1); reference the values more directly",
            "t.cfg:14: interpolation of option `a11` nests deeper than 10 references (a11 → a10 \
             → a9 → …); reference the values more directly"
        ]
    );
}

/// References that expand to nothing cost no bytes but, without memory of what was expanded,
/// 10¹⁰ lookups.
#[test]
fn nested_references_to_empty_values_resolve() {
    let mut text = String::from("[s]\na0 =\n");
    for i in 1..=9 {
        text.push_str(&format!(
            "a{i} = {}\n",
            format!("%(a{})s", i - 1).repeat(10)
        ));
    }
    text.push_str("x = <%(a9)s>\n");
    assert_eq!(value(&text, "s", "x"), "<>");
}

/// `[DEFAULT]` is copied into every section: the sections of one file may together resolve to
/// a bounded amount only, then the next one is an error at its header.
#[test]
fn the_resolved_sections_of_a_file_are_bounded() {
    let mut text = String::from("[DEFAULT]\nbig = ");
    text.push_str(&"x".repeat(60_000));
    text.push_str("\nb1 = %(big)s\nb2 = %(big)s\nb3 = %(big)s\n");
    for s in 0..400 {
        text.push_str(&format!("[s{s}]\n"));
    }
    let ini = ini(&text);
    let mut failed = None;
    for (i, s) in ini.sections.iter().enumerate() {
        let (r, errors) = ini.resolve(&[s]);
        if !errors.is_empty() {
            assert!(r.options.is_empty());
            failed = Some((i, strings(&errors)));
            break;
        }
        assert_eq!(r.value("b3").map(str::len), Some(60_000));
    }
    let (i, errors) = failed.expect("the bound was reached");
    // Each section costs its four values of 60,000 bytes and a little more.
    assert!((100..MAX_RESOLVED_BYTES / 240_000).contains(&i), "{i}");
    let (_, again) = ini.resolve(&[ini.sections.last().unwrap()]);
    assert_eq!(again.len(), 1, "every later section is refused at once");
    assert_eq!(
        errors,
        [format!(
            "t.cfg:{}: resolving section [s{i}] brings the sections of this file past 67108864 \
             bytes of options; make [DEFAULT] and the interpolations smaller, or split the file",
            6 + i
        )]
    );
}

/// Once past the bound, a section costs no more work: before, each later section copied
/// `[DEFAULT]` again up to the bound before giving up.
#[test]
fn sections_past_the_bound_are_refused_without_copying_default() {
    let mut text = String::from("[DEFAULT]\n");
    let value = "v".repeat(700);
    for o in 0..10_000 {
        text.push_str(&format!("option{o} = {value}\n"));
    }
    for s in 0..30 {
        text.push_str(&format!("[s{s}]\n"));
    }
    let ini = ini(&text);
    let refused: Vec<usize> = (0..30)
        .filter(|&i| !ini.resolve(&[&ini.sections[i]]).1.is_empty())
        .collect();
    assert_eq!(refused.first(), Some(&8), "each section costs about 8 MB");
    assert_eq!(refused.len(), 22);
    // What the refused section spent is recorded, so the next ones stop at once.
    let before = ini.resolved_bytes.get();
    assert!(before > MAX_RESOLVED_BYTES, "{before}");
    ini.resolve(&[&ini.sections[29]]);
    assert_eq!(ini.resolved_bytes.get(), before + SECTION_COST);
}

/// Duplicate checks look names up, so a file of many sections and options parses in linear
/// time; the errors stay the same.
#[test]
fn many_sections_and_options_parse() {
    let mut text = String::new();
    for s in 0..20_000 {
        text.push_str(&format!("[s{s}]\no = 1\n"));
    }
    text.push_str("[s7]\n[big]\n");
    for o in 0..20_000 {
        text.push_str(&format!("o{o} = {o}\n"));
    }
    text.push_str("o3 = again\n");
    let (ini, errors) = Ini::parse(Path::new("t.cfg"), &text);
    assert_eq!(
        strings(&errors),
        [
            "t.cfg:40001: section [s7] is already defined at line 15; merge the two sections or rename one",
            "t.cfg:60003: option `o3` is already set in section [big] at line 40006; keep only one of them",
        ]
    );
    assert_eq!(ini.section("s19999").unwrap().line, 39999);
    assert_eq!(ini.section("big").unwrap().options.len(), 20_000);
}

/// A bad line of any length is shown by its start only.
#[test]
fn a_long_bad_line_is_shown_by_its_start() {
    let line = "é".repeat(1_000_000);
    let (_, errors) = Ini::parse(Path::new("t.cfg"), &format!("[a]\n{line}\n"));
    assert_eq!(
        strings(&errors),
        [format!(
            "t.cfg:2: `{}…` is not an option; write `name = value` or `name: value`, or start a \
             comment with # or ;",
            "é".repeat(80)
        )]
    );
}

/// A file that is not INI at all stops after a hundred errors.
#[test]
fn reading_stops_after_a_hundred_errors() {
    let (_, errors) = Ini::parse(Path::new("t.cfg"), &"junk\n".repeat(100_000));
    assert_eq!(errors.len(), 101);
    assert_eq!(
        errors[100].to_string(),
        "t.cfg:101: more than 100 errors, the rest is not shown; is this the right file?"
    );
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
