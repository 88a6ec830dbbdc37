//! Who runs the local worker's commands, as `oebb create-master` decides it: OpenERP and Odoo
//! refuse to run as root, so a master directory made by root names an unprivileged user in
//! oebb.cfg (`local-worker-user`), which `oebb master DIR --local-worker` then uses.
//!
//! The policy, first match wins:
//! 1. `create-master --local-worker-user USER`;
//! 2. not root: nobody (the local worker runs as the master's own user);
//! 3. root under sudo: `SUDO_USER`, the user who ran sudo, when it is not root;
//! 4. root: the user `oebb`, when it exists;
//! 5. root otherwise: nobody, and oebb.cfg and the command's output say how to make one.
//!
//! create-master never creates users itself: that is the administrator's decision.

use oebb_worker::RunAs;

/// The name create-master looks for (rule 4) and advises to create (rule 5).
pub const CONVENTIONAL_USER: &str = "oebb";

/// What was decided and why, for oebb.cfg's comments.
#[derive(Debug, PartialEq)]
pub struct Choice {
    /// The user, when there is one.
    pub user: Option<String>,
    /// Why that user (or why none), one sentence.
    pub reason: String,
    /// Whether someone must act before OpenERP or Odoo can build (root and nobody found).
    pub needs_a_user: bool,
}

/// What the policy looks at, gathered by [`choose`] (pure, for the tests).
pub struct Facts<'a> {
    pub given: Option<&'a str>,
    pub is_root: bool,
    pub sudo_user: Option<&'a str>,
    pub conventional_exists: bool,
}

/// Applies the policy of this module's documentation.
pub fn decide(facts: &Facts) -> Choice {
    let chosen = |user: &str, reason: String| Choice {
        user: Some(user.to_string()),
        reason,
        needs_a_user: false,
    };
    if let Some(user) = facts.given {
        return chosen(user, "given with --local-worker-user".into());
    }
    if !facts.is_root {
        return Choice {
            user: None,
            reason: "create-master did not run as root: the local worker runs its commands as \
                     the master's own user"
                .into(),
            needs_a_user: false,
        };
    }
    if let Some(user) = facts.sudo_user.filter(|u| !u.is_empty() && *u != "root") {
        return chosen(
            user,
            format!("create-master ran as root through sudo from {user} (SUDO_USER)"),
        );
    }
    if facts.conventional_exists {
        return chosen(
            CONVENTIONAL_USER,
            format!("create-master ran as root and this machine has a user {CONVENTIONAL_USER}"),
        );
    }
    Choice {
        user: None,
        reason: format!(
            "create-master ran as root and found no user to run builds (no SUDO_USER, no user \
             {CONVENTIONAL_USER}): OpenERP and Odoo refuse root, so create one \
             (`useradd --system --create-home {CONVENTIONAL_USER}`), give it a PostgreSQL role \
             that may create databases, and set local-worker-user = {CONVENTIONAL_USER} here"
        ),
        needs_a_user: true,
    }
}

/// The choice on this machine; `given` is create-master's `--local-worker-user`.
pub fn choose(given: Option<&str>) -> Choice {
    // SAFETY: geteuid has no preconditions.
    let is_root = unsafe { libc::geteuid() } == 0;
    let sudo_user = std::env::var("SUDO_USER").ok();
    decide(&Facts {
        given,
        is_root,
        sudo_user: sudo_user.as_deref(),
        conventional_exists: RunAs::lookup(CONVENTIONAL_USER).is_ok(),
    })
}

/// `--no-probe` without `--local-worker-user`: nobody, whoever runs create-master, so the
/// example is the same on every machine.
pub fn not_looked_for() -> Choice {
    Choice {
        user: None,
        reason: "create-master --no-probe chose no user: the local worker runs its commands as \
                 the master's own user, and a master run as root needs one (OpenERP and Odoo \
                 refuse root)"
            .into(),
        needs_a_user: false,
    }
}

/// The `local-worker-user` lines of oebb.cfg: the option when a user was chosen, else a
/// commented example; the reason above it either way.
pub fn config_lines(choice: &Choice) -> String {
    let mut out = String::from(
        "# The user `oebb master DIR --local-worker` runs the local worker's commands as\n\
         # (OpenERP and Odoo refuse root; --local-worker-user wins). Read at start only.\n",
    );
    out.push_str(&super::capability_lines::comment(&format!(
        "{}.",
        choice.reason
    )));
    match &choice.user {
        Some(user) => out.push_str(&format!("local-worker-user = {user}\n")),
        None => out.push_str(&format!("# local-worker-user = {CONVENTIONAL_USER}\n")),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(is_root: bool) -> Facts<'static> {
        Facts {
            given: None,
            is_root,
            sudo_user: None,
            conventional_exists: false,
        }
    }

    #[test]
    fn each_rule_in_its_order() {
        let given = Facts {
            given: Some("ci"),
            sudo_user: Some("alice"),
            ..facts(true)
        };
        assert_eq!(decide(&given).user.as_deref(), Some("ci"));
        let not_root = Facts {
            sudo_user: Some("alice"),
            conventional_exists: true,
            ..facts(false)
        };
        assert_eq!(decide(&not_root).user, None);
        assert!(!decide(&not_root).needs_a_user);
        let sudo = Facts {
            sudo_user: Some("alice"),
            conventional_exists: true,
            ..facts(true)
        };
        assert_eq!(decide(&sudo).user.as_deref(), Some("alice"));
        let sudo_root = Facts {
            sudo_user: Some("root"),
            conventional_exists: true,
            ..facts(true)
        };
        assert_eq!(decide(&sudo_root).user.as_deref(), Some("oebb"));
        let nobody = decide(&facts(true));
        assert_eq!(nobody.user, None);
        assert!(nobody.needs_a_user);
        assert!(nobody
            .reason
            .contains("useradd --system --create-home oebb"));
    }

    #[test]
    fn the_option_is_written_only_for_a_chosen_user() {
        let chosen = config_lines(&decide(&Facts {
            sudo_user: Some("alice"),
            ..facts(true)
        }));
        assert!(chosen.contains("\nlocal-worker-user = alice\n"), "{chosen}");
        assert!(chosen.contains("sudo from alice (SUDO_USER)"), "{chosen}");
        let none = config_lines(&decide(&facts(false)));
        assert!(none.contains("\n# local-worker-user = oebb\n"), "{none}");
    }
}
