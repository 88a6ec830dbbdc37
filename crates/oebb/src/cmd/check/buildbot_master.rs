//! A Buildbot `master.cfg` left in the master directory (README, "Moving from Buildbot"):
//! oebb never reads it, so `check` tells, at the line of each setting it recognises, which
//! `oebb.cfg` option replaces it and what that option is now: a setting that was only in
//! `master.cfg` is then not lost without a word.

use oebb_config::{MasterSettings, Warning};
use std::path::Path;

/// A `master.cfg` setting: the texts that show it, and what replaces it in oebb.
struct Setting {
    needles: &'static [&'static str],
    replacement: fn(&MasterSettings) -> String,
}

const SETTINGS: &[Setting] = &[
    Setting {
        needles: &["slavePortnum", "c['protocols']", "c[\"protocols\"]"],
        replacement: |s| {
            format!(
                "the worker port is `worker-address` in [master] of oebb.cfg (now {}), for \
                 stock workers with protocol msgpack_experimental_v7",
                s.worker_address
            )
        },
    },
    Setting {
        needles: &["WebStatus(", "http_port", "c['www']", "c[\"www\"]"],
        replacement: |s| {
            format!(
                "the web pages are on `web-address` in [master] of oebb.cfg (now {})",
                s.web_address
            )
        },
    },
    Setting {
        needles: &["buildbotURL"],
        replacement: |s| {
            format!(
                "the public URL is `public-url` in [master] of oebb.cfg (now {})",
                s.public_url.as_deref().unwrap_or("unset")
            )
        },
    },
    Setting {
        needles: &["c['title']", "c[\"title\"]"],
        replacement: |s| {
            format!(
                "the title is `title` in [master] of oebb.cfg (now {})",
                s.title
            )
        },
    },
    Setting {
        needles: &["db_url"],
        replacement: |s| {
            format!(
                "the state database is `database` in [master] of oebb.cfg (now {}); Buildbot's \
                 history is not imported",
                s.database
            )
        },
    },
    Setting {
        needles: &["manifest_paths", "slaves_path"],
        replacement: |s| {
            let manifests: Vec<String> = s
                .manifests
                .iter()
                .map(|m| m.display().to_string())
                .collect();
            format!(
                "manifests and the workers file are `manifests` and `workers` in [master] of \
                 oebb.cfg (now {}; {})",
                manifests.join(", "),
                s.workers
                    .as_ref()
                    .map_or("slaves.cfg or workers.cfg".into(), |w| w
                        .display()
                        .to_string())
            )
        },
    },
    Setting {
        needles: &["BasicAuth(", "UserPasswordAuth("],
        replacement: |s| {
            format!(
                "web users are in [users] of oebb.cfg, written by `oebb passwd DIR USER` \
                 (now {} users)",
                s.users.len()
            )
        },
    },
    Setting {
        needles: &["vcs_master_url_rewrite_rules"],
        replacement: |s| {
            format!(
                "URL rewrite rules are `url-rewrite` lines in [watch] of oebb.cfg (now {} rules)",
                s.watch.url_rewrites.len()
            )
        },
    },
    Setting {
        needles: &["poll_interval", "pollInterval"],
        replacement: |s| {
            format!(
                "the poll interval is `poll-interval` in [watch] of oebb.cfg (now {} s)",
                s.watch.poll_interval
            )
        },
    },
    Setting {
        needles: &["tree_stable_timer", "treeStableTimer"],
        replacement: |s| {
            format!(
                "the tree-stable timer is `tree-stable-timer` in [watch] of oebb.cfg (now {} s)",
                s.watch.tree_stable_timer
            )
        },
    },
    Setting {
        needles: &["MailNotifier("],
        replacement: |s| match &s.mail {
            Some(m) => format!(
                "mail is [mail] of oebb.cfg (now from {} through {}:{}, {} rule(s))",
                m.from,
                m.relay_host,
                m.relay_port,
                m.rules.len()
            ),
            None => "mail is [mail] of oebb.cfg (now absent: no mail is sent)".into(),
        },
    },
    Setting {
        needles: &["add_capability_environ", "capabilities="],
        replacement: |_| {
            "oebb has no environment mappings of its own capabilities: only postgresql and \
             wkhtmltopdf options become environment variables"
                .into()
        },
    },
];

/// Warnings for the `master.cfg` of `dir`, if there is one.
pub fn warnings(dir: &Path, settings: &MasterSettings) -> Vec<Warning> {
    let path = dir.join("master.cfg");
    // Read through the configuration's bounded reader: a regular file of at most 16 MiB.
    let Some(text) = oebb_config::load::read_text(&path) else {
        return Vec::new();
    };
    hints(&text, settings)
        .into_iter()
        .map(|(line, message)| Warning::new(&path, line, message))
        .collect()
}

/// `(line, message)` for the first line of each setting found in `text`, and one for the file.
fn hints(text: &str, settings: &MasterSettings) -> Vec<(u32, String)> {
    let mut found = vec![(
        1,
        "master.cfg is Buildbot's and oebb does not read it: its settings go in oebb.cfg \
         (README, \"Moving from Buildbot\"); remove it once they are there"
            .to_string(),
    )];
    for setting in SETTINGS {
        let hit = text.lines().enumerate().find(|(_, line)| {
            let code = line.split('#').next().unwrap_or("");
            setting.needles.iter().any(|n| code.contains(n))
        });
        if let Some((i, line)) = hit {
            found.push((
                u32::try_from(i + 1).unwrap_or(u32::MAX),
                format!(
                    "`{}` is not read: {}",
                    shorten(line.trim()),
                    (setting.replacement)(settings)
                ),
            ));
        }
    }
    found
}

/// At most 80 characters of a line, for the message.
fn shorten(line: &str) -> String {
    match line.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::hints;
    use oebb_config::MasterSettings;

    /// Anybox's master.cfg.sample, in its shape.
    const SAMPLE: &str = "\
c = BuildmasterConfig = {}
from anybox.buildbot.openerp import configure_from_buildouts
configure_from_buildouts(basedir, BuildmasterConfig, manifest_paths=('buildouts/MANIFEST.cfg',))
c['slavePortnum'] = 9989
# c['title'] = 'commented out'
authz_cfg = authz.Authz(auth=auth.BasicAuth([('admin', 'admin')]), forceBuild=True)
c['status'].append(html.WebStatus(http_port=8010, authz=authz_cfg))
c['title'] = \"Anybox openerp buildbot\"
c['buildbotURL'] = \"http://localhost:8010/\"
c['db'] = {'db_url' : \"sqlite:///state.sqlite\"}
";

    fn settings() -> MasterSettings {
        MasterSettings::default()
    }

    #[test]
    fn each_setting_of_the_sample_is_told_at_its_line_with_its_replacement() {
        let found = hints(SAMPLE, &settings());
        let lines: Vec<u32> = found.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [1, 4, 7, 9, 8, 10, 3, 6], "{found:#?}");
        let text: Vec<&str> = found.iter().map(|(_, m)| m.as_str()).collect();
        assert!(text[1].contains("`worker-address` in [master] of oebb.cfg (now 0.0.0.0:9989)"));
        assert!(text[2].contains("`web-address`"), "{}", text[2]);
        assert!(text[4].starts_with("`c['title'] = \"Anybox openerp buildbot\"` is not read"));
        assert!(text[5].contains("Buildbot's history is not imported"));
        assert!(text[6].contains("buildouts/MANIFEST.cfg"), "{}", text[6]);
        assert!(text[7].contains("oebb passwd DIR USER"));
    }

    #[test]
    fn a_file_without_known_settings_still_gets_the_general_warning() {
        let found = hints("print('hello')\n", &settings());
        assert_eq!(found.len(), 1);
        assert!(found[0].1.contains("oebb does not read it"));
    }
}
