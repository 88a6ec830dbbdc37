use super::*;
use crate::testutil::settings;

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
         mode = failing\nusername = u\npassword = p\nstarttls = true\n",
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
    assert_eq!(
        s.mail,
        Some(MailSettings {
            relay: "smtp.example.com:587".into(),
            from: "ci@example.com".into(),
            to: vec!["a@example.com".into(), "b@example.com".into()],
            mode: "failing".into(),
            username: Some("u".into()),
            password: Some("p".into()),
            starttls: true,
        })
    );
}

#[test]
fn mail_defaults() {
    let (s, errors) = settings("[mail]\nfrom = ci@example.com\n");
    assert!(errors.is_empty());
    let mail = s.mail.unwrap();
    assert_eq!(
        (mail.relay.as_str(), mail.mode.as_str(), mail.starttls),
        ("localhost:25", "problem", false)
    );
}

#[test]
fn bad_settings_are_reported_with_file_line_and_message() {
    let cases: &[(&str, &str)] = &[
        ("[server]\nport = 1\n", "t.cfg:1: unknown section [server]; the valid sections are [master], [watch], [users], [mail]"),
        ("[master]\nweb_address = 1\n", "t.cfg:2: unknown option `web_address` in section [master]; the valid options are web-address, worker-address, database, title, public-url, manifests, workers, max-queued-requests"),
        ("[watch]\ninterval = 1\n", "t.cfg:2: unknown option `interval` in section [watch]; the valid options are poll-interval, tree-stable-timer, url-rewrite, hook-secret-file"),
        ("[master]\nweb-address = localhost\n", "t.cfg:2: `web-address` = `localhost` is invalid: write HOST:PORT, e.g. 127.0.0.1:8010"),
        ("[master]\nworker-address = :99999\n", "t.cfg:2: `worker-address` = `:99999` is invalid: write HOST:PORT, e.g. 127.0.0.1:8010"),
        ("[master]\ndatabase = mysql://x\n", "t.cfg:2: `database` = `mysql://x` is invalid: write sqlite:FILE or postgresql://USER@HOST/DB"),
        ("[master]\npublic-url = ci.example.com\n", "t.cfg:2: `public-url` = `ci.example.com` is invalid: write an http:// or https:// URL"),
        ("[master]\nmax-queued-requests = 0\n", "t.cfg:2: `max-queued-requests` = `0` is invalid: write a whole number of requests, at least 1"),
        ("[master]\nmanifests =\n", "t.cfg:2: `manifests` = `` is invalid: name at least one manifest file"),
        ("[watch]\npoll-interval = 0\n", "t.cfg:2: `poll-interval` = `0` is invalid: write a whole number of seconds (poll-interval at least 1)"),
        ("[watch]\ntree-stable-timer = 5m\n", "t.cfg:2: `tree-stable-timer` = `5m` is invalid: write a whole number of seconds (poll-interval at least 1)"),
        ("[watch]\nurl-rewrite = https://a/\n", "t.cfg:2: `url-rewrite` = `https://a/` is invalid: write one `PREFIX NEW_PREFIX` rule per line"),
        ("[mail]\nto = a@example.com\n", "t.cfg:1: `from` is empty; [mail] needs the sender address, e.g. `from = ci@example.com`"),
        ("[mail]\nfrom = ci\n", "t.cfg:2: `ci` in `from` is not a mail address; write user@host, several separated by spaces or commas"),
        ("[mail]\nfrom = ci@x\nto = dev\n", "t.cfg:3: `dev` in `to` is not a mail address; write user@host, several separated by spaces or commas"),
        ("[mail]\nfrom = ci@x\nmode = sometimes\n", "t.cfg:3: `mode` = `sometimes` is invalid: use one of failing, problem, change, all"),
        ("[mail]\nfrom = ci@x\nstarttls = yes\n", "t.cfg:3: `starttls` must be `true` or `false`, not `yes`"),
        ("[mail]\nfrom = ci@x\nsmtp = h\n", "t.cfg:3: unknown option `smtp` in section [mail]; the valid options are relay, from, to, mode, username, password, starttls"),
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
