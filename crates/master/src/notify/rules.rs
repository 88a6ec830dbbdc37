//! Who is mailed about a finished build: pure functions of the rules, the build's result, the
//! builder's previous verdict and the authors of the build's changes.

use oebb_config::master_settings::{MailMode, MailRule};

use crate::results::Results;

/// Recipients of one mail at most: the rule's addresses and the authors together.
pub const MAX_RECIPIENTS: usize = 100;

/// Whether a result says the build is broken.
fn broken(result: Results) -> bool {
    matches!(result, Results::Failure | Results::Exception)
}

/// Whether a result is a verdict on the code (retried, skipped and stopped builds are not).
fn verdict(result: Results) -> bool {
    matches!(
        result,
        Results::Success | Results::Warnings | Results::Failure | Results::Exception
    )
}

/// Whether a build finishing with `result`, after the builder's previous verdict `previous`
/// (None: its first), is mailed under `mode`. A first build that fails counts as a change and
/// as a problem: nobody has been told yet.
pub fn wants_mail(mode: MailMode, result: Results, previous: Option<Results>) -> bool {
    if mode == MailMode::All {
        return !matches!(result, Results::Retry | Results::Skipped);
    }
    if !verdict(result) {
        return false;
    }
    match mode {
        MailMode::Failing => broken(result),
        MailMode::Problem => broken(result) != previous.is_some_and(broken),
        MailMode::Change => previous.map_or(broken(result), |p| p != result),
        MailMode::Warnings => result != Results::Success,
        MailMode::All => true,
    }
}

/// Whether the rule covers a builder: every builder when it names neither builders nor
/// categories, else those named and those of the categories named.
pub fn covers(rule: &MailRule, builder: &str, category: &str) -> bool {
    (rule.builders.is_empty() && rule.categories.is_empty())
        || rule.builders.iter().any(|b| b == builder)
        || rule.categories.iter().any(|c| c == category)
}

/// The address of a change's author: `Name <user@host>` or `user@host`; None for anything
/// else (an author is whatever a commit says, so it must parse as one mailbox).
pub fn author_address(author: &str) -> Option<String> {
    let author = author.trim();
    let addr = match (author.rfind('<'), author.ends_with('>')) {
        (Some(open), true) => &author[open + 1..author.len() - 1],
        (None, false) => author,
        _ => return None,
    };
    let valid = addr.len() <= 254
        && !addr.contains(|c: char| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
        && addr.parse::<lettre::Address>().is_ok();
    valid.then(|| addr.to_string())
}

/// The domain of an address, lower case.
fn domain(address: &str) -> String {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default()
}

/// One rule's recipients for a finished build: none unless its mode wants the mail; else its
/// fixed addresses and the authors whose address is in one of its `author-domains` (exactly
/// that domain, in any case).
pub fn rule_recipients(
    rule: &MailRule,
    result: Results,
    previous: Option<Results>,
    authors: &[String],
) -> Vec<String> {
    if !wants_mail(rule.mode, result, previous) {
        return Vec::new();
    }
    let mut out = rule.to.clone();
    if !rule.author_domains.is_empty() {
        out.extend(
            authors
                .iter()
                .filter_map(|a| author_address(a))
                .filter(|a| rule.author_domains.contains(&domain(a))),
        );
    }
    out
}

/// Everyone mailed about a build of `builder` (in build category `category`): the union of
/// the recipients of every rule covering it, each address once (compared without case), at
/// most [`MAX_RECIPIENTS`]. `authors` are the authors of the build's changes as the changes
/// give them (`Name <user@host>` or `user@host`).
pub fn build_recipients(
    rules: &[MailRule],
    builder: &str,
    category: &str,
    result: Results,
    previous: Option<Results>,
    authors: &[String],
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for rule in rules.iter().filter(|r| covers(r, builder, category)) {
        for address in rule_recipients(rule, result, previous, authors) {
            if out.len() < MAX_RECIPIENTS && !out.iter().any(|o| o.eq_ignore_ascii_case(&address)) {
                out.push(address);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Results::{Cancelled, Exception, Failure, Retry, Skipped, Success, Warnings};

    fn rule(mode: MailMode, to: &[&str], domains: &[&str]) -> MailRule {
        MailRule {
            name: String::new(),
            line: 1,
            mode,
            to: to.iter().map(|s| s.to_string()).collect(),
            builders: vec![],
            builders_line: 1,
            categories: vec![],
            categories_line: 1,
            author_domains: domains.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn modes_follow_the_previous_verdict() {
        use MailMode as M;
        let cases: &[(MailMode, Results, Option<Results>, bool)] = &[
            (M::Failing, Failure, Some(Failure), true),
            (M::Failing, Exception, None, true),
            (M::Failing, Success, Some(Failure), false),
            (M::Failing, Warnings, None, false),
            (M::Problem, Failure, Some(Success), true),
            (M::Problem, Failure, Some(Warnings), true),
            (M::Problem, Failure, None, true),
            (M::Problem, Failure, Some(Failure), false),
            (M::Problem, Exception, Some(Failure), false),
            (M::Problem, Success, Some(Failure), true),
            (M::Problem, Warnings, Some(Exception), true),
            (M::Problem, Success, Some(Success), false),
            (M::Problem, Success, None, false),
            (M::Problem, Warnings, Some(Success), false),
            (M::Problem, Cancelled, Some(Failure), false),
            (M::Problem, Retry, Some(Success), false),
            (M::Change, Warnings, Some(Success), true),
            (M::Change, Failure, Some(Exception), true),
            (M::Change, Success, Some(Success), false),
            (M::Change, Success, None, false),
            (M::Change, Failure, None, true),
            (M::Change, Skipped, Some(Success), false),
            (M::Warnings, Warnings, Some(Warnings), true),
            (M::Warnings, Failure, None, true),
            (M::Warnings, Success, Some(Failure), false),
            (M::All, Success, Some(Success), true),
            (M::All, Cancelled, None, true),
            (M::All, Retry, None, false),
            (M::All, Skipped, None, false),
        ];
        for (mode, result, previous, expected) in cases {
            assert_eq!(
                wants_mail(*mode, *result, *previous),
                *expected,
                "{mode:?} {result:?} after {previous:?}"
            );
        }
    }

    #[test]
    fn author_addresses_are_taken_from_both_forms_and_nothing_else() {
        let cases = [
            ("Jane Doe <jane@example.com>", Some("jane@example.com")),
            ("jane@example.com", Some("jane@example.com")),
            (
                "  <j.d+ci@Sub.Example.com>  ",
                Some("j.d+ci@Sub.Example.com"),
            ),
            ("Jane Doe", None),
            ("jane", None),
            ("Jane <jane@example.com", None),
            ("jane@example.com>", None),
            ("a@b.com, c@d.com", None),
            ("<a@b.com>\r\nBcc: x@evil.com", None),
            ("a b@example.com", None),
            ("@example.com", None),
            ("<>", None),
        ];
        for (author, expected) in cases {
            assert_eq!(
                author_address(author).as_deref(),
                expected,
                "author {author:?}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(author_address(&long), None);
    }

    #[test]
    fn authors_are_mailed_only_in_the_rule_domains() {
        let r = rule(
            MailMode::Problem,
            &["team@example.com"],
            &["example.com", "corp.example.org"],
        );
        let authors = [
            "Jane <jane@Example.COM>".to_string(),
            "bob@corp.example.org".to_string(),
            "eve@evil.example.net".to_string(),
            "sub@dev.example.com".to_string(),
            "not an address".to_string(),
        ];
        assert_eq!(
            rule_recipients(&r, Failure, Some(Success), &authors),
            [
                "team@example.com",
                "jane@Example.COM",
                "bob@corp.example.org"
            ]
        );
        // The mode decides first: no mail, nobody.
        assert!(rule_recipients(&r, Failure, Some(Failure), &authors).is_empty());
        // Without author-domains, authors are never mailed.
        let fixed = rule(MailMode::Problem, &["team@example.com"], &[]);
        assert_eq!(
            rule_recipients(&fixed, Failure, None, &authors),
            ["team@example.com"]
        );
        // Authors alone.
        let only = rule(MailMode::Failing, &[], &["example.com"]);
        assert_eq!(
            rule_recipients(&only, Failure, None, &authors),
            ["jane@Example.COM"]
        );
        assert!(rule_recipients(&only, Failure, None, &[]).is_empty());
    }

    #[test]
    fn rules_cover_builders_and_categories_and_recipients_are_merged() {
        let mut shop = rule(
            MailMode::Failing,
            &["shop@example.com", "all@example.com"],
            &[],
        );
        shop.builders = vec!["shop-pg16".into()];
        let mut customers = rule(MailMode::Problem, &["ALL@example.com"], &["example.com"]);
        customers.categories = vec!["customers".into()];
        let everyone = rule(MailMode::All, &["log@example.com"], &[]);
        let rules = [shop, customers, everyone];
        let authors = ["a@example.com".to_string()];
        assert_eq!(
            build_recipients(&rules, "shop-pg16", "", Failure, Some(Success), &authors),
            ["shop@example.com", "all@example.com", "log@example.com"]
        );
        assert_eq!(
            build_recipients(&rules, "erp", "customers", Failure, Some(Success), &authors),
            ["ALL@example.com", "a@example.com", "log@example.com"]
        );
        assert_eq!(
            build_recipients(&rules, "erp", "customers", Failure, Some(Failure), &authors),
            ["log@example.com"]
        );
        assert_eq!(
            build_recipients(&rules, "other", "", Retry, Some(Failure), &authors),
            Vec::<String>::new()
        );
    }

    #[test]
    fn recipients_are_bounded() {
        let r = rule(MailMode::All, &[], &["example.com"]);
        let authors: Vec<String> = (0..500).map(|i| format!("u{i}@example.com")).collect();
        let all = build_recipients(&[r], "b", "", Success, None, &authors);
        assert_eq!(all.len(), MAX_RECIPIENTS);
    }
}
