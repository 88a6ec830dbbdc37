//! Requirements on worker capabilities: `postgresql >= 9.1 < 9.3`, `… OR == 8.4`, `not-used`.
//!
//! Grammar (seed-system §3.2, with the §10 quirks fixed): `CAP [not-used | CLAUSE (OR CLAUSE)*]`
//! where `CLAUSE = OP VERSION ([AND] OP VERSION)*` and `OP` is one of `< <= == >= >`. Any amount
//! of whitespace separates tokens, the operator may touch its version (`>=9.1`), `AND` is accepted
//! so that the printed form parses back, and anything else is an error instead of matching all.

use crate::version::Version;
use std::fmt;
use std::str::FromStr;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
    /// `>=`
    Ge,
    /// `>`
    Gt,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Eq => "==",
            Op::Ge => ">=",
            Op::Gt => ">",
        }
    }

    fn holds(self, left: &Version, right: &Version) -> bool {
        match self {
            Op::Lt => left < right,
            Op::Le => left <= right,
            Op::Eq => left == right,
            Op::Ge => left >= right,
            Op::Gt => left > right,
        }
    }
}

/// One `OP VERSION` test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comparison {
    /// The operator.
    pub op: Op,
    /// The version compared with.
    pub version: Version,
}

/// What a requirement asks of the capability's version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Criteria {
    /// Just the capability name: any version, markers included.
    Any,
    /// `not-used`: in `build-for`, do not split builders on this capability.
    NotUsed,
    /// OR of clauses, each an AND of comparisons.
    AnyOf(Vec<Vec<Comparison>>),
}

/// A capability name and the versions it accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// The capability name, e.g. `postgresql`.
    pub capability: String,
    /// The accepted versions.
    pub criteria: Criteria,
}

/// Why a requirement did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequirementError {
    /// Empty text.
    #[error("it is empty; write a capability name, e.g. `postgresql >= 9.1`")]
    Empty,
    /// The first token is not a capability name.
    #[error("`{0}` is not a capability name; start with a name such as `postgresql`")]
    BadName(String),
    /// A version where an operator should be.
    #[error("`{0}` has no operator; write e.g. `== {0}`")]
    MissingOperator(String),
    /// A token that is no operator.
    #[error("unknown operator `{0}`; use one of <, <=, ==, >=, >")]
    UnknownOperator(String),
    /// An operator at the end.
    #[error("operator `{0}` has no version after it")]
    MissingVersion(String),
    /// A version that does not parse.
    #[error("bad version `{0}`: {1}")]
    BadVersion(String, String),
    /// `OR`/`AND` with nothing on one side.
    #[error("`{0}` needs a comparison on both sides")]
    DanglingKeyword(String),
    /// `not-used` with something else.
    #[error("`not-used` must be alone after the capability name")]
    NotUsedNotAlone,
}

const OPS: [(&str, Op); 5] = [
    ("<=", Op::Le),
    (">=", Op::Ge),
    ("==", Op::Eq),
    ("<", Op::Lt),
    (">", Op::Gt),
];

/// Splits `>=9.1` into `>=` and `9.1`, so operators may touch their version.
fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for tok in text.split_whitespace() {
        let op_len = tok.bytes().take_while(|b| b"<>=!~".contains(b)).count();
        if op_len > 0 && op_len < tok.len() {
            out.push(&tok[..op_len]);
            out.push(&tok[op_len..]);
        } else {
            out.push(tok);
        }
    }
    out
}

fn operator(tok: &str) -> Result<Op, RequirementError> {
    if let Some((_, op)) = OPS.iter().find(|(s, _)| *s == tok) {
        return Ok(*op);
    }
    if tok.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(RequirementError::MissingOperator(tok.to_string()));
    }
    Err(RequirementError::UnknownOperator(tok.to_string()))
}

/// Whether `name` can be a capability name.
pub fn is_capability_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

impl FromStr for Requirement {
    type Err = RequirementError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let toks = tokens(text);
        let Some((&name, rest)) = toks.split_first() else {
            return Err(RequirementError::Empty);
        };
        if !is_capability_name(name) {
            return Err(RequirementError::BadName(name.to_string()));
        }
        let capability = name.to_string();
        if rest.is_empty() {
            return Ok(Requirement {
                capability,
                criteria: Criteria::Any,
            });
        }
        if rest.contains(&"not-used") {
            if rest.len() != 1 {
                return Err(RequirementError::NotUsedNotAlone);
            }
            return Ok(Requirement {
                capability,
                criteria: Criteria::NotUsed,
            });
        }
        let mut clauses = vec![Vec::new()];
        let mut i = 0;
        while i < rest.len() {
            let tok = rest[i];
            let keyword = tok.to_ascii_uppercase();
            if keyword == "OR" || keyword == "AND" {
                let clause = clauses.last().expect("never empty");
                if clause.is_empty() || i + 1 == rest.len() {
                    return Err(RequirementError::DanglingKeyword(tok.to_string()));
                }
                if keyword == "OR" {
                    clauses.push(Vec::new());
                }
                i += 1;
                continue;
            }
            let op = operator(tok)?;
            let Some(&ver) = rest.get(i + 1) else {
                return Err(RequirementError::MissingVersion(tok.to_string()));
            };
            let version = ver
                .parse::<Version>()
                .map_err(|e| RequirementError::BadVersion(ver.to_string(), e.to_string()))?;
            clauses
                .last_mut()
                .expect("never empty")
                .push(Comparison { op, version });
            i += 2;
        }
        Ok(Requirement {
            capability,
            criteria: Criteria::AnyOf(clauses),
        })
    }
}

impl Requirement {
    /// Whether a worker's capability version (None for a marker) satisfies this requirement.
    pub fn matches(&self, version: Option<&Version>) -> bool {
        match &self.criteria {
            Criteria::Any | Criteria::NotUsed => true,
            Criteria::AnyOf(clauses) => version.is_some_and(|v| {
                clauses
                    .iter()
                    .any(|clause| clause.iter().all(|c| c.op.holds(v, &c.version)))
            }),
        }
    }

    /// Whether this is `CAP not-used`.
    pub fn is_not_used(&self) -> bool {
        self.criteria == Criteria::NotUsed
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.capability)?;
        match &self.criteria {
            Criteria::Any => Ok(()),
            Criteria::NotUsed => f.write_str(" not-used"),
            Criteria::AnyOf(clauses) => {
                for (i, clause) in clauses.iter().enumerate() {
                    f.write_str(if i == 0 { " " } else { " OR " })?;
                    for (j, c) in clause.iter().enumerate() {
                        if j > 0 {
                            f.write_str(" AND ")?;
                        }
                        write!(f, "{} {}", c.op.as_str(), c.version)?;
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn req(s: &str) -> Requirement {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn m(r: &str, v: &str) -> bool {
        req(r).matches(Some(&v.parse().unwrap()))
    }

    #[test]
    fn seed_doctest_examples_match() {
        assert!(m("pg >= 9.1 < 9.3", "9.2"));
        assert!(!m("pg >= 9.1 < 9.3", "8.4"));
        assert!(m("pg >= 9.1 < 9.3", "9.3-devel"));
        assert!(!m("pg >= 9.1 < 9.3", "9.4"));
        assert!(m("pg >= 9.2-devel OR == 8.4-special", "9.2"));
        assert!(!m("pg >= 9.2-devel OR == 8.4-special", "9.1"));
        assert!(m("pg >= 9.2-devel OR == 8.4-special", "8.4-special"));
        assert!(m("rabbitmq", "6.6.6-any"));
    }

    #[test]
    fn or_binds_looser_than_implicit_and() {
        let r = req("postgresql <= 9.2 > 8.4 OR == 8.4-patched");
        assert_eq!(
            r.to_string(),
            "postgresql <= 9.2 AND > 8.4 OR == 8.4-patched"
        );
        assert!(r.matches(Some(&"9.0".parse().unwrap())));
        assert!(r.matches(Some(&"8.4-patched".parse().unwrap())));
        assert!(!r.matches(Some(&"8.4".parse().unwrap())));
        assert!(!r.matches(Some(&"9.3".parse().unwrap())));
    }

    #[test]
    fn whitespace_and_touching_operators_are_accepted() {
        assert_eq!(
            req("postgresql   >=  9.1\t<9.3"),
            req("postgresql >= 9.1 < 9.3")
        );
        assert_eq!(req("pg >=9.1 or ==8.4"), req("pg >= 9.1 OR == 8.4"));
    }

    #[test]
    fn printed_form_parses_back() {
        for s in [
            "pg",
            "pg not-used",
            "pg >= 9.1 AND < 9.3",
            "pg > 9.0 OR == 8.4",
        ] {
            assert_eq!(req(s).to_string(), s);
            assert_eq!(req(&req(s).to_string()), req(s));
        }
    }

    #[test]
    fn markers_match_only_requirements_without_criteria() {
        assert!(req("selenium").matches(None));
        assert!(!req("selenium >= 1").matches(None));
        assert!(req("postgresql not-used").is_not_used());
    }

    #[test]
    fn malformed_requirements_are_errors() {
        use RequirementError::*;
        let cases: &[(&str, RequirementError)] = &[
            ("", Empty),
            ("   ", Empty),
            (">= 9.1", BadName(">=".into())),
            ("pg 8.4", MissingOperator("8.4".into())),
            ("pg = 8.4", UnknownOperator("=".into())),
            ("pg != 8.4", UnknownOperator("!=".into())),
            ("pg ~ 8.4", UnknownOperator("~".into())),
            ("pg >=", MissingVersion(">=".into())),
            ("pg OR == 8.4", DanglingKeyword("OR".into())),
            ("pg == 8.4 OR", DanglingKeyword("OR".into())),
            ("pg == 8.4 AND", DanglingKeyword("AND".into())),
            ("pg not-used == 9.1", NotUsedNotAlone),
            (
                "pg >= 9.2devel",
                BadVersion("9.2devel".into(), VersionErrorText::devel()),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(
                text.parse::<Requirement>().as_ref(),
                Err(expected),
                "{text}"
            );
        }
    }

    struct VersionErrorText;
    impl VersionErrorText {
        fn devel() -> String {
            crate::version::VersionError::NotANumber("2devel".into()).to_string()
        }
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(s in "\\PC{0,40}") {
            let _ = s.parse::<Requirement>();
        }

        #[test]
        fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = String::from_utf8_lossy(&bytes).parse::<Requirement>();
        }

        #[test]
        fn parsing_operator_soup_never_panics(s in "[a-z]{1,3}( (<|<=|==|>=|>|=|OR|AND|or|not-used|[0-9.]{1,4}|-devel)){0,8}") {
            if let Ok(r) = s.parse::<Requirement>() {
                prop_assert_eq!(r.to_string().parse::<Requirement>(), Ok(r));
            }
        }
    }
}
