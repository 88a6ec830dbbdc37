//! Support of the real OpenERP 7.0 test: the machine's parts, the addons, the master directory.

pub mod addons;
pub mod setup;

use std::path::Path;

use setup::ROLE;

/// The builders, by MANIFEST section: the addons each installs and tests. The two failing
/// test kinds share one build (a failed test does not stop the loading); an install error
/// and an import error each stop it, so they have builds of their own.
pub const SECTIONS: [(&str, &str); 4] = [
    ("clean", "ci_clean"),
    ("tests", "ci_unittest,ci_yaml"),
    ("data", "ci_data"),
    ("import", "ci_import"),
];

/// The pins that build OpenERP 7.0 on Python 2.7 today (the latest of many of these
/// distributions dropped Python 2), learned by building it: Pillow 2.9.0 passes base's tests
/// (3.3.3 breaks YAML tests, 6.2.2 image tests); reportlab 3.4.0 (3.5.59 wants Pillow ≥ 4);
/// vobject 0.8.2 (0.8.1c's archive is broken); coverage 4.5.4 (the last for Python 2.7, and
/// openerp-core requires coverage).
pub const VERSIONS: &str = "\
[versions]
zc.buildout = 2.13.8
setuptools = 44.1.1
zc.recipe.egg = 2.0.7
anybox.recipe.openerp = 1.9.1
openerp-command = 0.0.1
Pillow = 2.9.0
reportlab = 3.4.0
vobject = 0.8.2
coverage = 4.5.4
PyChart = 1.39
Babel = 2.9.1
pytz = 2021.3
lxml = 4.9.4
Mako = 1.1.6
MarkupSafe = 1.1.1
psutil = 5.9.8
psycopg2 = 2.7.7
pydot = 1.0.28
pyparsing = 1.5.7
python-dateutil = 1.5
PyYAML = 5.4.1
simplejson = 3.17.6
unittest2 = 1.1.0
six = 1.16.0
traceback2 = 1.4.0
linecache2 = 1.0.0
argparse = 1.4.0
Werkzeug = 0.8.3
docutils = 0.16
anybox.testing.datetime = 0.5
pip = 20.3.4
";

/// The buildout every builder builds: the server unpacked beside the worker's builders (a copy
/// per worker: the recipe develops it and writes `setup.nopil.py` into it), the addons of
/// `addons`, `PyChart` and the openerp-command stand-in from `find_links`.
pub fn buildout_cfg(addons: &Path, find_links: &Path) -> String {
    format!(
        "[buildout]\n\
         parts = openerp\n\
         versions = versions\n\
         find-links = {}\n\
         newest = false\n\
         \n\
         [openerp]\n\
         recipe = anybox.recipe.openerp:server\n\
         version = local ${{buildout:directory}}/../../openerp-core-7.0.406\n\
         addons = local {}\n\
         \n\
         {VERSIONS}",
        find_links.display(),
        addons.display()
    )
}

/// The sections whose testing database comes from a template of their addons' dependencies
/// (`db.template-cache`): a green and a red variant; the others are made from `template1`.
pub const TEMPLATE_CACHED: [&str; 2] = ["clean", "tests"];

/// The MANIFEST: every section built for both PostgreSQL capabilities (15: the stock
/// worker's, 16: the oebb worker's), so each kind of worker builds every variant.
pub fn manifest() -> String {
    SECTIONS
        .iter()
        .map(|(section, addons)| {
            let cache = TEMPLATE_CACHED.contains(section);
            format!(
                "[{section}]\nbuildout = standalone openerp7.cfg\n\
                 build-for = postgresql >= 15\nopenerp-addons = {addons}\nodoo.version = 7.0\n\
                 bootstrap-version = 2.13.8\ndb.template-cache = {cache}\n\n"
            )
        })
        .collect()
}

/// A worker's `slaves.cfg` section: its PostgreSQL capability on the cluster at `host:port`
/// as [`ROLE`], and Python 2.7. Its testing databases are named after this process, so two
/// runs of the test on one machine (two worktrees) never drop each other's.
pub fn worker_section(
    name: &str,
    password: &str,
    pg: &str,
    (host, port): &(String, String),
    python: &Path,
) -> String {
    format!(
        "[{name}]\npassword = {password}\nmax_builds = 4\ndb_prefix = oebb7-{}\n\
         capability = postgresql {pg} host={host} port={port} user={ROLE}\n    \
         python 2.7 bin={}\n\n",
        std::process::id(),
        python.display()
    )
}
