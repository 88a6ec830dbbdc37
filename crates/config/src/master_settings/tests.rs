use super::*;
use crate::testutil::settings;
use std::path::Path;

#[test]
fn empty_file_gives_the_defaults() {
    let (s, errors) = settings("");
    assert!(errors.is_empty());
    assert_eq!(s, MasterSettings::default());
    assert_eq!(
        (s.web_address.as_str(), s.worker_address.as_str()),
        ("127.0.0.1:8010", "0.0.0.0:9989")
    );
    assert_eq!(s.database, "sqlite:state.sqlite");
    assert_eq!(s.manifests, [PathBuf::from("buildouts/MANIFEST.cfg")]);
    assert_eq!(s.max_queued_requests, 100);
    assert_eq!(
        (s.watch.poll_interval, s.watch.tree_stable_timer),
        (600, 600)
    );
}

#[test]
fn every_option_is_read() {
    let (s, errors) = settings(
        "[DEFAULT]\nhost = ci.example.com\n\
         [master]\nweb-address = 0.0.0.0:8080\nworker-address = 10.0.0.1:9990\n\
         database = postgresql://oebb@localhost/oebb\ntitle = My CI\npublic-url = https://%(host)s/\n\
         manifests = buildouts/MANIFEST.cfg\n  other/MANIFEST.cfg\nworkers = workers.cfg\n\
         max-queued-requests = 20\n\
         [watch]\npoll-interval = 60\ntree-stable-timer = 0\n\
         url-rewrite = https://github.com/ file:///srv/mirror/\n  lp: https://git.launchpad.net/\n\
         [users]\nadmin = $argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA\nBob = $argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0$b3RoZXJoYXNob3RoZXJoYXNo\n\
         [mail]\nrelay = smtp.example.com:587\nfrom = ci@example.com\nto = a@example.com, b@example.com\n\
         mode = failing\nusername = u\npassword-file = relay.pass\nstarttls = true\n\
         builders = b1\ncategories = c1 c2\nauthor-domains = Example.com, @corp.example.org\n\
         ca-file = relay-ca.pem\nmissing-timeout = 60\n\
         [mail:team]\nto = t@example.com\nmode = all\n",
    );
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(s.web_address, "0.0.0.0:8080");
    assert_eq!(s.worker_address, "10.0.0.1:9990");
    assert_eq!(s.database, "postgresql://oebb@localhost/oebb");
    assert_eq!(s.title, "My CI");
    assert_eq!(s.public_url.as_deref(), Some("https://ci.example.com/"));
    assert_eq!(
        s.manifests,
        [
            PathBuf::from("buildouts/MANIFEST.cfg"),
            PathBuf::from("other/MANIFEST.cfg")
        ]
    );
    assert_eq!(s.workers, Some(PathBuf::from("workers.cfg")));
    assert_eq!(s.max_queued_requests, 20);
    assert_eq!(s.watch.poll_interval, 60);
    assert_eq!(s.watch.tree_stable_timer, 0);
    assert_eq!(
        s.watch.url_rewrites,
        [
            (
                "https://github.com/".to_string(),
                "file:///srv/mirror/".to_string()
            ),
            ("lp:".to_string(), "https://git.launchpad.net/".to_string()),
        ]
    );
    assert_eq!(
        s.users,
        [
            User {
                name: "admin".into(),
                password: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
                    .into()
            },
            User {
                name: "bob".into(),
                password: "$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0$b3RoZXJoYXNob3RoZXJoYXNo"
                    .into()
            }
        ]
    );
    let mail = s.mail.unwrap();
    assert_eq!(
        (mail.relay_host.as_str(), mail.relay_port, mail.security),
        ("smtp.example.com", 587, MailSecurity::Starttls)
    );
    assert_eq!(mail.from, "ci@example.com");
    assert_eq!(mail.username.as_deref(), Some("u"));
    assert_eq!(mail.password_file, Some(PathBuf::from("relay.pass")));
    assert_eq!(mail.ca_file, Some(PathBuf::from("relay-ca.pem")));
    assert_eq!(mail.missing_timeout, 60);
    assert_eq!(
        mail.rules,
        [
            MailRule {
                name: String::new(),
                line: 21,
                mode: MailMode::Failing,
                to: vec!["a@example.com".into(), "b@example.com".into()],
                builders: vec!["b1".into()],
                builders_line: 29,
                categories: vec!["c1".into(), "c2".into()],
                categories_line: 30,
                author_domains: vec!["example.com".into(), "corp.example.org".into()],
            },
            MailRule {
                name: "team".into(),
                line: 34,
                mode: MailMode::All,
                to: vec!["t@example.com".into()],
                builders: vec![],
                builders_line: 34,
                categories: vec![],
                categories_line: 34,
                author_domains: vec![],
            }
        ]
    );
}

#[test]
fn mail_defaults() {
    let (s, errors) = settings("[mail]\nfrom = ci@example.com\n");
    assert!(errors.is_empty());
    let mail = s.mail.unwrap();
    assert_eq!(
        (mail.relay_host.as_str(), mail.relay_port, mail.security),
        ("localhost", 25, MailSecurity::None)
    );
    assert_eq!(mail.rules[0].mode, MailMode::Problem);
    assert_eq!(mail.missing_timeout, 600);
    let (s, _) = settings("[mail]\nfrom = ci@example.com\nsecurity = tls\nrelay = [::1]\n");
    let mail = s.mail.unwrap();
    assert_eq!((mail.relay_host.as_str(), mail.relay_port), ("::1", 465));
}

#[test]
fn bad_settings_are_reported_with_file_line_and_message() {
    let cases: &[(&str, &str)] = &[
        ("[server]\nport = 1\n", "t.cfg:1: unknown section [server]; the valid sections are [master], [watch], [users], [mail], [mail:NAME]"),
        ("[master]\nweb_address = 1\n", "t.cfg:2: unknown option `web_address` in section [master]; the valid options are web-address, worker-address, database, title, public-url, manifests, workers, max-queued-requests, local-worker-user"),
        ("[watch]\ninterval = 1\n", "t.cfg:2: unknown option `interval` in section [watch]; the valid options are poll-interval, tree-stable-timer, url-rewrite, hook-secret-file"),
        ("[master]\nweb-address = localhost\n", "t.cfg:2: `web-address` = `localhost` is invalid: write HOST:PORT, e.g. 127.0.0.1:8010"),
        ("[master]\nworker-address = :99999\n", "t.cfg:2: `worker-address` = `:99999` is invalid: write HOST:PORT, e.g. 127.0.0.1:8010"),
        ("[master]\ndatabase = mysql://x\n", "t.cfg:2: `database` = `mysql://x` is invalid: write sqlite:FILE or postgresql://USER@HOST/DB"),
        ("[master]\npublic-url = ci.example.com\n", "t.cfg:2: `public-url` = `ci.example.com` is invalid: write an http:// or https:// URL"),
        ("[master]\nlocal-worker-user = root; rm\n", "t.cfg:2: `local-worker-user` = `root; rm` is invalid: write the name of a user of this machine, e.g. oebb"),
        ("[master]\nmax-queued-requests = 0\n", "t.cfg:2: `max-queued-requests` = `0` is invalid: write a whole number of requests, at least 1"),
        ("[master]\nmanifests =\n", "t.cfg:2: `manifests` = `` is invalid: name at least one manifest file"),
        ("[watch]\npoll-interval = 0\n", "t.cfg:2: `poll-interval` = `0` is invalid: write a whole number of seconds (poll-interval at least 1)"),
        ("[watch]\ntree-stable-timer = 5m\n", "t.cfg:2: `tree-stable-timer` = `5m` is invalid: write a whole number of seconds (poll-interval at least 1)"),
        ("[watch]\nurl-rewrite = https://a/\n", "t.cfg:2: `url-rewrite` = `https://a/` is invalid: write one `PREFIX NEW_PREFIX` rule per line"),
        ("[mail]\nto = a@example.com\n", "t.cfg:1: `from` is empty; [mail] needs the sender address, e.g. `from = ci@example.com`"),
        ("[mail]\nfrom = ci\n", "t.cfg:2: `ci` in `from` is not a mail address; write user@host, several separated by spaces or commas"),
        ("[mail]\nfrom = ci@x\nto = dev\n", "t.cfg:3: `dev` in `to` is not a mail address; write user@host, several separated by spaces or commas"),
        ("[mail]\nfrom = ci@x\nmode = sometimes\n", "t.cfg:3: `mode` = `sometimes` is invalid: use one of failing, problem, change, warnings, all"),
        ("[mail]\nfrom = ci@x\nstarttls = yes\n", "t.cfg:3: `starttls` must be `true` or `false`, not `yes`"),
        ("[mail]\nfrom = ci@x\nsmtp = h\n", "t.cfg:3: unknown option `smtp` in section [mail]; the valid options are relay, security, starttls, username, password-file, password, ca-file, from, missing-timeout, to, mode, builders, categories, author-domains"),
        ("[mail]\nfrom = ci@x\n[mail:a]\nrelay = h\n", "t.cfg:4: unknown option `relay` in section [mail:a]; the valid options are to, mode, builders, categories, author-domains"),
        ("[mail:a]\nto = a@x\n", "t.cfg:1: [mail:a] needs a [mail] section with the relay and the sender (`from`)"),
        ("[mail]\nfrom = ci@x\nusername = u\npassword = secret\n", "t.cfg:4: a password in clear is refused in oebb.cfg; write it alone in a file readable only by the master's user and name that file in `password-file`"),
        ("[mail]\nfrom = ci@x\npassword-file = p\n", "t.cfg:3: `password-file` = `p` is invalid: a password needs a `username` to log in with"),
        ("[mail]\nfrom = ci@x\nsecurity = ssl\n", "t.cfg:3: `security` = `ssl` is invalid: use one of none, starttls, tls"),
        ("[mail]\nfrom = ci@x\nstarttls = false\nsecurity = tls\n", "t.cfg:4: `security` = `tls` is invalid: it contradicts `starttls`; keep only `security`"),
        ("[mail]\nfrom = ci@x\nrelay = h:smtp\n", "t.cfg:3: `relay` = `h:smtp` is invalid: write HOST or HOST:PORT"),
        ("[mail]\nfrom = ci@x\nauthor-domains = example\n", "t.cfg:3: `author-domains` = `example` is invalid: write mail domains such as example.com"),
        ("[mail]\nfrom = ci@x\nmissing-timeout = 10m\n", "t.cfg:3: `missing-timeout` = `10m` is invalid: write a whole number of seconds"),
    ];
    for (text, expected) in cases {
        assert_eq!(settings(text).1, [*expected], "input {text:?}");
    }
}

#[test]
fn default_options_are_not_taken_as_unknown_options_or_users() {
    let (s, errors) =
        settings("[DEFAULT]\nport = 8010\n[master]\nweb-address = 0.0.0.0:%(port)s\n[users]\n");
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(s.web_address, "0.0.0.0:8010");
    assert!(s.users.is_empty());
}

#[test]
fn a_password_in_clear_is_an_error_naming_oebb_passwd() {
    let (s, errors) = settings("[users]\nadmin = secret\n");
    assert!(s.users.is_empty());
    assert_eq!(
        errors,
        [
            "t.cfg:2: the password of web user `admin` is not an argon2 hash ($argon2id$…); \
          run `oebb passwd . admin` to set it"
        ]
    );
}

#[test]
fn mail_rules_naming_unknown_builders_or_categories_are_errors_at_their_line() {
    use crate::testutil::{buildouts, workers};
    let ws = workers("[w]\npassword = p\ncapability = postgresql 16\n");
    let bs = buildouts(
        "[shop]\nbuildout = standalone shop.cfg\nbuild-category = customers\n\
         [erp]\nbuildout = standalone erp.cfg\n",
    );
    let (matrix, errors) = crate::matrix::build_matrix(&bs, &ws);
    assert!(errors.is_empty(), "{errors:?}");
    let (s, errors) = settings(
        "[mail]\nfrom = ci@example.com\nbuilders = shop erp\n\
         [mail:team]\nbuilders = shop shp\ncategories = customers custmers\n",
    );
    assert!(errors.is_empty(), "{errors:?}");
    let found = check_rules(&s.mail.unwrap(), &matrix, Path::new("t.cfg"));
    assert_eq!(
        crate::testutil::strings(&found),
        [
            "t.cfg:5: mail rule names builder `shp`, which does not exist (`oebb check DIR` lists the builders); correct or remove it",
            "t.cfg:6: mail rule names category `custmers`, which does not exist (categories are the buildouts' `build-category` values); correct or remove it",
        ]
    );
}

#[test]
fn the_local_worker_user_is_read_and_absent_by_default() {
    let (s, errors) = settings("[master]\nlocal-worker-user = oebb-ci.1\n");
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(s.local_worker_user.as_deref(), Some("oebb-ci.1"));
    assert_eq!(settings("[master]\n").0.local_worker_user, None);
}
