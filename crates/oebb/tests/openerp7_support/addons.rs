//! The addons the real OpenERP 7.0 builds install: one clean, and one per way to fail.

use std::path::Path;

/// The model every addon defines, with a method its data and tests call.
const MODEL: &str = r#"from openerp.osv import orm, fields


class ci_thing(orm.Model):
    _name = 'NAME.thing'
    _columns = {
        'name': fields.char('Name', size=64),
        'count': fields.integer('Count'),
    }

    def counts(self, cr, uid, ids, context=None):
        return dict((t.id, t.count) for t in self.browse(cr, uid, ids, context=context))

    def check_count(self, cr, uid, expected, context=None):
        things = self.search(cr, uid, [('name', '=', 'one')], context=context)
        count = self.browse(cr, uid, things[0], context=context).count
        if count != expected:
            raise ValueError('NAME: thing one counts %d, not %d' % (count, expected))
        return True
"#;

/// The record the data file creates: thing one, counting 4.
const DATA: &str = r#"<?xml version="1.0"?>
<openerp>
  <data>
    <record id="thing_one" model="NAME.thing">
      <field name="name">one</field>
      <field name="count">4</field>
    </record>
    <function model="NAME.thing" name="check_count" eval="[EXPECTED]"/>
  </data>
</openerp>
"#;

/// Everyone may use the model (a model without access rules is a WARNING).
const ACCESS: &str = "id,name,model_id:id,group_id:id,perm_read,perm_write,perm_create,perm_unlink
access_NAME_thing,access_NAME_thing,model_NAME_thing,,1,1,1,1
";

/// A YAML test asserting thing one's count.
const YAML: &str = r#"-
  Thing one counts what its data says.
-
  !assert {model: NAME.thing, id: thing_one, string: thing one counts YAML_COUNT}:
    - count == YAML_COUNT
"#;

/// A unittest2 test (7.0 runs the modules listed in `fast_suite`).
const UNITTEST: &str = r#"from openerp.tests import common


class TestCounts(common.TransactionCase):

    def test_counts_of_thing_one(self):
        things = self.registry('NAME.thing')
        one = self.ref('NAME.thing_one')
        self.assertEqual(things.counts(self.cr, self.uid, [one]), {one: UNIT_COUNT})
"#;

/// One addon: what it expects, and how it breaks.
pub struct Addon {
    /// Its name (the module).
    pub name: &'static str,
    /// The count its data checks while installing (4 is right).
    pub data_count: u32,
    /// The count its YAML test asserts (4 is right).
    pub yaml_count: u32,
    /// The count its unittest2 test asserts (4 is right).
    pub unit_count: u32,
    /// Its `__init__` imports a module that does not exist.
    pub import_error: bool,
}

/// The clean addon and the four ways to fail.
pub const ADDONS: [Addon; 5] = [
    Addon::clean("ci_clean"),
    Addon {
        unit_count: 5,
        ..Addon::clean("ci_unittest")
    },
    Addon {
        yaml_count: 5,
        ..Addon::clean("ci_yaml")
    },
    Addon {
        data_count: 3,
        ..Addon::clean("ci_data")
    },
    Addon {
        import_error: true,
        ..Addon::clean("ci_import")
    },
];

impl Addon {
    const fn clean(name: &'static str) -> Addon {
        Addon {
            name,
            data_count: 4,
            yaml_count: 4,
            unit_count: 4,
            import_error: false,
        }
    }

    /// Writes the addon into `addons/<name>`.
    pub fn write(&self, addons: &Path) {
        let dir = addons.join(self.name);
        std::fs::create_dir_all(dir.join("tests")).unwrap();
        std::fs::create_dir_all(dir.join("test")).unwrap();
        let name = |text: &str| {
            text.replace("NAME", self.name)
                .replace("EXPECTED", &self.data_count.to_string())
                .replace("YAML_COUNT", &self.yaml_count.to_string())
                .replace("UNIT_COUNT", &self.unit_count.to_string())
        };
        let manifest = format!(
            "{{\n    'name': '{}',\n    'version': '1.0',\n    'depends': ['base'],\n    \
             'description': 'An addon of oebb\\'s tests.',\n    \
             'data': ['ir.model.access.csv', 'data.xml'],\n    'test': ['test/counts.yml'],\n    \
             'installable': True,\n}}\n",
            self.name
        );
        let init = if self.import_error {
            "import models\nimport ci_no_such_module\n"
        } else {
            "import models\n"
        };
        for (file, text) in [
            ("__openerp__.py", manifest),
            ("__init__.py", init.to_string()),
            ("models.py", name(MODEL)),
            ("data.xml", name(DATA)),
            ("ir.model.access.csv", name(ACCESS)),
            ("test/counts.yml", name(YAML)),
            (
                "tests/__init__.py",
                "import test_counts\n\nfast_suite = [test_counts]\n".into(),
            ),
            ("tests/test_counts.py", name(UNITTEST)),
        ] {
            std::fs::write(dir.join(file), text).unwrap();
        }
    }
}
