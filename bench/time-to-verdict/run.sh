#!/usr/bin/env bash
# Time to verdict on the real OpenERP 7.0 buildout (issue 16): the buildout run skipped when
# nothing it reads changed.
#
# The buildout of crates/oebb/tests/openerp7.rs (zc.buildout 2.13.8, anybox.recipe.openerp 1.9.1,
# openerp-core 7.0.406, Python 2.7) with its clean addon `ci_clean`, built by `oebb master DIR
# --local-worker` on the first test cluster, three times over: builder `off-pg15`
# (`buildout.skip-unchanged = false`: buildout runs every time, as before), `on-pg15` (the
# default: skipped when unchanged) and `tpl-pg15` (skipped when unchanged, and
# `db.template-cache = true`: the testing database from a template holding `base`, made by the
# first build; the bench drops the templates of earlier runs first). For each: a first warm build (eggs in the worker's cache,
# the bootstrap virtualenv made), a second build with nothing changed, a third after an edit of
# one addon file (the addons under test change, the buildout does not). Prints each build's
# wall time (store: started → finished), verdict and whether buildout ran.
#
#   bench/time-to-verdict/run.sh [MODE…]      # MODE: off, on, tpl (default: all three)
#
# Needs what the openerp7 test needs (scripts/install-test-deps: $OEBB_TEST_PREFIX/openerp7),
# the test cluster (OEBB_TEST_PG_URL, else scripts/install-postgresql) and, run as root, the
# user oebbtest. The egg cache is $OEBB_TEST_PREFIX/openerp7/caches-bench: the very first run on
# a machine compiles lxml, psycopg2, Pillow, reportlab (about 6 minutes) in a warm-up build of a
# third builder, not counted.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
prefix=${OEBB_TEST_PREFIX:-/opt/oebb-test}
deps=$prefix/openerp7
[ -f "$deps/ready-3" ] || { echo "$deps is not ready: run scripts/install-test-deps" >&2; exit 2; }
python27=${OEBB_TEST_PYTHON27:-$deps/python-2.7.18/bin/python2.7}
url=${OEBB_TEST_PG_URL:-$(scripts/install-postgresql)}
rest=${url#*://}; rest=${rest#*@}; address=${rest%%/*}
host=${address%%:*}; port=${address##*:}
role=oebb_openerp7
psql -X -q -v ON_ERROR_STOP=1 "$url" -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role') THEN CREATE ROLE $role LOGIN CREATEDB; END IF; END \$\$"

target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
cargo build --locked -p oebb >&2
oebb="$target/debug/oebb"

dir="$root/bench/out/time-to-verdict"
rm -rf "$dir"
mkdir -p "$dir/buildouts" "$dir/workers/local" "$dir/addons/ci_clean/tests" "$dir/addons/ci_clean/test"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
web=127.0.0.1:$(free_port)
cat > "$dir/oebb.cfg" <<CFG
[master]
worker-address = 127.0.0.1:$(free_port)
web-address = $web
CFG
cat > "$dir/slaves.cfg" <<CFG
[local]
password = bench
capability = postgresql 15 host=$host port=$port user=$role
    python 2.7 bin=$python27
CFG
for mode in warmup off on tpl; do
  skip=true; [ $mode = off ] && skip=false
  cache=false; [ $mode = tpl ] && cache=true
  cat >> "$dir/buildouts/MANIFEST.cfg" <<CFG
[$mode]
buildout = standalone openerp7.cfg
build-for = postgresql >= 15
openerp-addons = ci_clean
odoo.version = 7.0
bootstrap-version = 2.13.8
buildout.skip-unchanged = $skip
db.template-cache = $cache

CFG
done
# The buildout and the pins of crates/oebb/tests/openerp7_support/mod.rs.
versions=$(sed -n '/^pub const VERSIONS: &str = "\\$/,/^";$/p' crates/oebb/tests/openerp7_support/mod.rs | sed '1d;$d')
cat > "$dir/buildouts/openerp7.cfg" <<CFG
[buildout]
parts = openerp
versions = versions
find-links = $deps/find-links
newest = false

[openerp]
recipe = anybox.recipe.openerp:server
version = local \${buildout:directory}/../../openerp-core-7.0.406
addons = local $dir/addons

$versions
CFG
# The clean addon of crates/oebb/tests/openerp7_support/addons.rs.
a=$dir/addons/ci_clean
cat > "$a/__openerp__.py" <<'PY'
{
    'name': 'ci_clean',
    'version': '1.0',
    'depends': ['base'],
    'description': 'An addon of oebb\'s benchmark.',
    'data': ['ir.model.access.csv', 'data.xml'],
    'test': ['test/counts.yml'],
    'installable': True,
}
PY
echo "import models" > "$a/__init__.py"
cat > "$a/models.py" <<'PY'
from openerp.osv import orm, fields


class ci_thing(orm.Model):
    _name = 'ci_clean.thing'
    _columns = {
        'name': fields.char('Name', size=64),
        'count': fields.integer('Count'),
    }

    def counts(self, cr, uid, ids, context=None):
        return dict((t.id, t.count) for t in self.browse(cr, uid, ids, context=context))
PY
cat > "$a/data.xml" <<'XML'
<?xml version="1.0"?>
<openerp>
  <data>
    <record id="thing_one" model="ci_clean.thing">
      <field name="name">one</field>
      <field name="count">4</field>
    </record>
  </data>
</openerp>
XML
cat > "$a/ir.model.access.csv" <<'CSV'
id,name,model_id:id,group_id:id,perm_read,perm_write,perm_create,perm_unlink
access_ci_clean_thing,access_ci_clean_thing,model_ci_clean_thing,,1,1,1,1
CSV
cat > "$a/test/counts.yml" <<'YML'
-
  Thing one counts what its data says.
-
  !assert {model: ci_clean.thing, id: thing_one, string: thing one counts 4}:
    - count == 4
YML
printf 'import test_counts\n\nfast_suite = [test_counts]\n' > "$a/tests/__init__.py"
cat > "$a/tests/test_counts.py" <<'PY'
from openerp.tests import common


class TestCounts(common.TransactionCase):

    def test_counts_of_thing_one(self):
        things = self.registry('ci_clean.thing')
        one = self.ref('ci_clean.thing_one')
        self.assertEqual(things.counts(self.cr, self.uid, [one]), {one: 4})
PY

cp -a "$deps/openerp-core-7.0.406" "$dir/workers/local/"
cold=false; [ -d "$deps/caches-bench/eggs" ] || cold=true
mkdir -p "$deps/caches-bench"
ln -s "$deps/caches-bench" "$dir/workers/local/caches"
as_user=()
if [ "$(id -u)" = 0 ]; then
  chmod 755 "$dir"
  chown -R oebbtest: "$dir" "$deps/caches-bench"
  as_user=(--local-worker-user oebbtest)
fi

"$oebb" master "$dir" --local-worker "${as_user[@]}" > "$dir/master.log" 2>&1 &
master=$!
trap 'kill $master 2>/dev/null || true' EXIT

# Builds BUILDER; prints "SECONDS VERDICT BUILDOUT-STEP-RESULT".
build() {
  local out id
  for _ in $(seq 50); do
    out=$("$oebb" force "$dir" "$1" --wait --timeout 3600 2>&1) && break
    case "$out" in *queued*) break;; esac
    sleep 0.2
  done
  id=$(printf '%s\n' "$out" | grep -E '^build [0-9]+ on ' | tail -n 1 | cut -d ' ' -f 2)
  [ -n "$id" ] || { echo "no build: $out" >&2; exit 1; }
  curl -s "http://$web/api/builds/$id" | python3 -c '
import json, sys
d = json.load(sys.stdin)
b = d["build"]
buildout = [s for s in d["steps"] if s["name"] == "buildout"][0]
tpl = [p for p in d["properties"] if p["name"] == "db_template_used"]
test = [s for s in d["steps"] if s["name"] == "test"]
print("build %s %.1f s %s buildout=%s template=%s test=%.1f s" % (b["id"], (b["finished_at"] - b["started_at"]) / 1000.0,
      b["result"], buildout["result"], json.loads(tpl[0]["value_json"]).split(" ")[0] if tpl else "-",
      (test[0]["finished_at"] - test[0]["started_at"]) / 1000.0 if test and test[0].get("finished_at") else 0))'
}

if $cold; then echo "warm-up (a cold egg cache): $(build warmup-pg15)"; fi
echo "machine: $(nproc) cores, load $(cut -d ' ' -f 1-3 /proc/loadavg), oebb $(git rev-parse --short HEAD)"
for t in $(psql -X -At "$url" -c "SELECT datname FROM pg_database WHERE datname LIKE 'oebbtpl\_%'"); do
  psql -X -q "$url" -c "DROP DATABASE IF EXISTS \"$t\""
done
modes=("$@"); [ ${#modes[@]} -gt 0 ] || modes=(off on tpl)
for mode in "${modes[@]}"; do
  echo "$mode-pg15 first warm build:        $(build $mode-pg15)"
  echo "$mode-pg15 second, nothing changed: $(build $mode-pg15)"
  echo "# bench edit $mode" >> "$a/models.py"
  echo "$mode-pg15 third, one addon edited:  $(build $mode-pg15)"
done
