//! Template databases (`db.template-cache = true`, issue 16): the testing database is created
//! from a template holding the dependency modules of the addons under test already installed,
//! so the test step installs and tests only the addons under test.
//!
//! The `createdb` step becomes a script (a stock buildbot-worker runs it) that, under the
//! worker's exclusive `db-template` lock:
//! 1. finds the dependencies: a small Python script (any 2.7 or 3 interpreter: it only reads
//!    files) reads the `addons_path` of the part's `etc/<part>.cfg`, then each addon's
//!    `__manifest__.py`/`__openerp__.py` `depends`, transitively, minus the addons under test —
//!    how OpenERP 7.0 and Odoo order a module after what it depends on — and hashes every file
//!    of those modules (their revision, whatever source they come from) and the names of all
//!    the modules of the addons path (a new database lists them, and OpenERP ignores a module
//!    of `-i` that its database does not list);
//! 2. names the template `oebbtpl_<server_version_num>_<key>`, the key being the sha256 of the
//!    module list, their files' hash, the start command, the cluster (`PGHOST:PGPORT`) and its
//!    version: a template is never used on another cluster or PostgreSQL version, and a change
//!    of any dependency makes another one;
//! 3. uses it when it exists with its completion comment (`createdb -T`), else (missing,
//!    incomplete, or `createdb -T` failing: a broken template is dropped) builds it: a database
//!    from `db_template`, the start command with `-i <dependencies> --stop-after-init` and no
//!    test flags (its log is the build log `db-template`), accepted only when it exits 0 and
//!    logs no ERROR or CRITICAL record, renamed to the template's name and commented (the
//!    database being made has a name of its own, so workers sharing a cluster never drop each
//!    other's; the lock is per worker);
//! 4. evicts the `oebbtpl_*` templates of that cluster older than `db.template-max-age` days
//!    (default 7) and beyond the `db.template-keep` newest (default 5), never the one in use,
//!    and the databases of template makings that died more than a day ago.
//!
//! Without dependencies to install (none found) or when the template cannot be made, the
//! testing database is made from `db_template` as without the cache, and the step says why.
//! The step prints the template used (or `none: …`): the build property `db_template_used`.

use crate::bootstrap::python_bin;
use crate::context::{Context, RecipeError};
use crate::post_buildout::words;
use crate::shell::in_build;
use crate::step::{LockAccess, Step};

/// The worker lock around template use and creation: two builds never make one at once.
pub const TEMPLATE_LOCK: &str = "db-template";

/// Whether `db.template-cache = true`.
pub fn enabled(cx: &Context) -> bool {
    cx.flag("db.template-cache")
}

/// The `createdb` step made from a template of the addons' dependencies.
pub fn createdb(cx: &Context) -> Result<Step, RecipeError> {
    let max_age = cx.number("db.template-max-age", 7)?;
    let keep = cx.number("db.template-keep", 5)?.max(1);
    let mut start = words(&cx.buildout.start_command);
    if start.is_empty() {
        start.push(format!("bin/start_{}", cx.part()));
    }
    let script = format!("set -e\nDEPS_PY=$(cat <<'PY'\n{DEPS_PY}PY\n)\n{SCRIPT}");
    Ok(Step::script("createdb", &script)
        .envs(&cx.env)
        .env("ADDONS", &cx.addons())
        .env("ODOO_CONFIG", &format!("etc/{}.cfg", cx.part()))
        .env("PYTHON", &python_bin(cx))
        .env("START", &start.join(" "))
        .env("DB_TEMPLATE", &cx.buildout.db_template)
        .env("TESTING_DB", &cx.testing_db)
        .env("LOGFILE", &in_build("db-template.log"))
        .env("MAX_AGE_DAYS", &max_age.to_string())
        .env("KEEP", &keep.to_string())
        .log_file("db-template", "db-template.log")
        .lock(LockAccess::exclusive(TEMPLATE_LOCK))
        .property_from_stdout("db_template_used")
        .halt_on_failure(true)
        .timeout(crate::post_buildout::odoo_timeout(cx)?)
        .description("the testing database from a template of the addons' dependencies"))
}

/// Prints the dependencies (comma-joined), then the hash of their files.
const DEPS_PY: &str = r#"import ast, hashlib, os, sys
wanted = [a for a in sys.argv[1].split(',') if a]
paths = []
if os.path.isfile(sys.argv[2]):
    for line in open(sys.argv[2]):
        name, _, value = line.partition('=')
        if name.strip() == 'addons_path':
            paths = [p.strip() for p in value.split(',') if p.strip()]
def find(module):
    for p in paths:
        for f in ('__manifest__.py', '__openerp__.py', '__terp__.py'):
            if os.path.isfile(os.path.join(p, module, f)):
                return os.path.join(p, module), os.path.join(p, module, f)
    return None, None
dirs, todo = {}, list(wanted)
while todo:
    module = todo.pop()
    if module in dirs:
        continue
    dirs[module], manifest = find(module)
    if manifest:
        todo.extend(ast.literal_eval(open(manifest).read()).get('depends', []))
deps = sorted(m for m in dirs if m not in wanted and dirs[m])
digest = hashlib.sha256()
# A new database lists the modules of the addons path as it is then; OpenERP ignores a module
# of `-i` it does not list: a template is for one set of available modules.
available = set()
for p in paths:
    if os.path.isdir(p):
        available.update(m for m in os.listdir(p) if find(m)[1])
digest.update(('available %s\n' % ','.join(sorted(available))).encode())
for m in deps:
    digest.update(('module %s\n' % m).encode())
    for top, subdirs, files in sorted(os.walk(dirs[m])):
        subdirs.sort()
        for f in sorted(files):
            if f.endswith(('.pyc', '.pyo')):
                continue
            path = os.path.join(top, f)
            digest.update(('%s\n' % os.path.relpath(path, dirs[m])).encode())
            digest.update(open(path, 'rb').read())
print(','.join(deps))
print(digest.hexdigest())
"#;

// `q` connects to `postgres`, not to `db_template`: `createdb -T template1` of other builds
// fails while anyone is connected to template1.
const SCRIPT: &str = r#"q() { psql -X -q -At -v ON_ERROR_STOP=1 -d postgres -c "$1"; }
rm -f "$LOGFILE"
plain() { echo "$1: the testing database is made from $DB_TEMPLATE" >&2; createdb -T "$DB_TEMPLATE" "$TESTING_DB"; echo "none: $1"; exit 0; }
out=$("$PYTHON" -c "$DEPS_PY" "$ADDONS" "$ODOO_CONFIG") || plain "the dependencies of $ADDONS could not be read"
deps=$(printf '%s\n' "$out" | sed -n 1p); files=$(printf '%s\n' "$out" | sed -n 2p)
[ -n "$deps" ] || plain "no dependency module of $ADDONS found in the addons_path of $ODOO_CONFIG"
version=$(q 'SHOW server_version_num')
cluster="${PGHOST:-local}:${PGPORT:-5432}"
key=$(printf '%s\n' "$deps" "$files" "$START" "$cluster" "$version" | sha256sum | cut -c 1-16)
tpl="oebbtpl_${version}_$key"
echo "dependencies of $ADDONS: $deps" >&2
echo "cluster $cluster, PostgreSQL $version: template $tpl" >&2
complete() { q "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '$tpl'" | grep -q '^oebb-template '; }
if complete; then
  if createdb -T "$tpl" "$TESTING_DB"; then echo "template $tpl used" >&2; used=$tpl; fi
  if [ -z "${used:-}" ]; then echo "template $tpl is broken (createdb -T failed): made again" >&2; dropdb --if-exists "$tpl"; fi
else
  dropdb --if-exists "$tpl"
fi
if [ -z "${used:-}" ]; then
  new="${tpl}_n$$"
  createdb -T "$DB_TEMPLATE" "$new"
  q "COMMENT ON DATABASE \"$new\" IS 'oebb-template-building $(date +%s)'"
  echo "installing $deps into $new (no tests): $START -d $new -i $deps --stop-after-init" >&2
  if $START -d "$new" -i "$deps" --stop-after-init "--logfile=$LOGFILE" \
     && ! grep -Eq '^[0-9-]+ [0-9:,]+ [0-9]+ (ERROR|CRITICAL) ' "$LOGFILE"; then
    if q "ALTER DATABASE \"$new\" RENAME TO \"$tpl\""; then
      q "COMMENT ON DATABASE \"$tpl\" IS 'oebb-template $(date +%s) $deps'"
      echo "template $tpl made and used" >&2
    else
      echo "another worker made $tpl meanwhile: template $tpl used" >&2; dropdb "$new"
    fi
    createdb -T "$tpl" "$TESTING_DB"
    used=$tpl
  else
    dropdb --if-exists "$new"
    plain "installing $deps failed (see the log db-template)"
  fi
fi
now=$(date +%s)
q "SELECT datname, split_part(shobj_description(oid, 'pg_database'), ' ', 2) FROM pg_database WHERE datname ~ '^oebbtpl_[0-9]+_[0-9a-f]{16}$' ORDER BY 2 DESC" |
{ n=0; while IFS='|' read -r name made; do
  n=$((n + 1))
  [ "$name" = "$used" ] && continue
  case "$made" in ''|*[!0-9]*) made=0;; esac
  if [ "$n" -gt "$KEEP" ] || [ $((now - made)) -gt $((MAX_AGE_DAYS * 86400)) ]; then
    echo "evicting template $name" >&2; dropdb --if-exists "$name" || true
  fi
done; }
# What a build that died while making a template left: a day is longer than any install.
q "SELECT datname, split_part(shobj_description(oid, 'pg_database'), ' ', 2) FROM pg_database WHERE datname ~ '^oebbtpl_[0-9]+_[0-9a-f]{16}_n[0-9]+$'" |
{ while IFS='|' read -r name made; do
  case "$made" in ''|*[!0-9]*) made=0;; esac
  if [ $((now - made)) -gt 86400 ]; then echo "dropping $name, left by a build that died" >&2; dropdb --if-exists "$name" || true; fi
done; }
echo "$used"
"#;

#[cfg(test)]
mod tests {
    use crate::step::StepCommand;
    use crate::testutil::*;

    const CACHED: &str = "buildout = standalone odoo.cfg\nbuild-for = postgresql == 16\n\
                          openerp-addons = a, b\nbuildout-part = odoo\ndb.template-cache = true\n";

    #[test]
    fn the_cache_is_off_by_default() {
        let steps = steps_of(&CACHED.replace("db.template-cache = true\n", ""));
        assert!(matches!(
            step(&steps, "createdb").command,
            StepCommand::Argv(_)
        ));
    }

    #[test]
    fn createdb_uses_a_template_of_the_dependencies_under_its_lock() {
        let steps = steps_of(CACHED);
        let s = step(&steps, "createdb");
        let StepCommand::Script(script) = &s.command else {
            panic!("{:?}", s.command)
        };
        assert!(script.contains("createdb -T \"$tpl\" \"$TESTING_DB\""));
        assert!(script.contains("SHOW server_version_num"));
        // Quiet: the step's output is the template's name, with no `ALTER DATABASE` tags.
        assert!(script.contains("q() { psql -X -q -At "));
        assert_eq!(s.env["ADDONS"], "a,b");
        assert_eq!(s.env["ODOO_CONFIG"], "etc/odoo.cfg");
        assert_eq!(s.env["TESTING_DB"], "ci-b-pg16");
        assert_eq!(s.env["PGPORT"], "5433");
        assert_eq!(s.env["KEEP"], "5");
        assert_eq!(s.env["MAX_AGE_DAYS"], "7");
        assert_eq!(s.locks, [crate::step::LockAccess::exclusive("db-template")]);
        assert_eq!(s.property_from_stdout.as_deref(), Some("db_template_used"));
        assert!(s.halt_on_failure);
        // The test step installs and tests the addons under test only, as before.
        assert!(text(step(&steps, "test")).contains("-i a,b"));
    }

    #[test]
    fn eviction_options_are_numbers() {
        let steps = steps_of(&format!(
            "{CACHED}db.template-keep = 2\ndb.template-max-age = 1\n"
        ));
        assert_eq!(step(&steps, "createdb").env["KEEP"], "2");
        let err = try_steps_of(&format!("{CACHED}db.template-keep = many\n")).unwrap_err();
        assert!(err.to_string().contains("db.template-keep"), "{err}");
    }
}
