//! The options of the `python` capability (seed-system §2, §4.3): anybox read `bin=` (the
//! interpreter that bootstraps) and `venv=` (the virtualenv whose `bin/python` runs the
//! buildout, default `~/openerp-env`). oebb honours both, so any other option would be silently
//! ignored: it is refused at its line instead.

/// The options oebb reads, with what they mean (for the error message).
const KNOWN: &str =
    "bin= (the interpreter) and venv= (an existing virtualenv whose bin/python runs \
                     the buildout as it is)";

/// Why `key=value` cannot be a `python` option, if it cannot.
pub fn problem(key: &str, value: &str) -> Option<String> {
    match key {
        "bin" if value.is_empty() => Some("`bin=` is empty; name an interpreter".into()),
        "bin" => None,
        "venv" if value.is_empty() => {
            Some("`venv=` is empty; give the virtualenv's directory".into())
        }
        "venv" if !(value.starts_with('/') || value.starts_with("~/")) => Some(format!(
            "`venv={value}` is not an absolute path; give the virtualenv's directory as \
             /path or ~/path (it is on the worker, which runs builds in directories of its own)"
        )),
        "venv" => None,
        other => Some(format!(
            "unknown option `{other}=` of the python capability; oebb reads {KNOWN}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::worker_errors;

    #[test]
    fn bin_and_venv_are_accepted_anything_else_is_refused_at_its_line() {
        assert!(worker_errors(
            "[w]\npassword = a\ncapability = python 2.7 bin=python2.7 venv=/srv/env27\n  python 3 venv=~/env3\n"
        )
        .is_empty());
        let cases: &[(&str, &str)] = &[
            ("python 3 vnev=/srv/e", "unknown option `vnev=` of the python capability; oebb reads bin= (the interpreter) and venv= (an existing virtualenv whose bin/python runs the buildout as it is)"),
            ("python 3 venv=env", "`venv=env` is not an absolute path; give the virtualenv's directory as /path or ~/path (it is on the worker, which runs builds in directories of its own)"),
            ("python 3 venv=", "`venv=` is empty; give the virtualenv's directory"),
            ("python 3 bin=", "`bin=` is empty; name an interpreter"),
        ];
        for (line, reason) in cases {
            let text = format!("[w]\npassword = a\ncapability = {line}\n  postgresql 9.1\n");
            assert_eq!(
                worker_errors(&text),
                [format!(
                    "t.cfg:3: invalid capability line `{line}`: {reason}"
                )],
                "{line}"
            );
        }
    }

    #[test]
    fn other_capabilities_keep_their_free_options() {
        assert!(
            worker_errors("[w]\npassword = a\ncapability = rabbitmq 2.8 base_uri=amqp://x\n")
                .is_empty()
        );
    }
}
