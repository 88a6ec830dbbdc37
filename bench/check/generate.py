#!/usr/bin/env python3
"""Writes a master directory of 500 buildouts x 50 workers with 5 PostgreSQL versions each.

Usage: generate.py DIR [BUILDOUTS] [WORKERS]
"""
import os
import sys

out = sys.argv[1]
buildouts = int(sys.argv[2]) if len(sys.argv) > 2 else 500
workers = int(sys.argv[3]) if len(sys.argv) > 3 else 50
versions = ["12", "13", "14", "15", "16"]

os.makedirs(os.path.join(out, "buildouts"), exist_ok=True)
with open(os.path.join(out, "slaves.cfg"), "w") as f:
    for w in range(workers):
        f.write(f"[worker-{w:03d}]\npassword = secret-{w}\n")
        lines = [
            f"postgresql {v} port={5432 + i} host=/run/postgresql bin=/usr/lib/postgresql/{v}/bin "
            f"lib=/usr/lib/postgresql/{v}/lib user=ci passwd=pw{w}"
            for i, v in enumerate(versions)
        ]
        lines.append(f"python 3.{8 + w % 4} bin=python3.{8 + w % 4}")
        if w % 10 == 0:
            lines.append("private-code-access")
        f.write("capability = " + "\n    ".join(lines) + "\n")
        f.write(f"max_builds = {1 + w % 4}\ndb_prefix = ci{w}\nnotify_on_missing = ops@example.com\n\n")

with open(os.path.join(out, "buildouts", "base.cfg"), "w") as f:
    f.write("[buildout]\nparts = odoo\n[odoo]\nrecipe = anybox.recipe.odoo:server\nversion = git https://github.com/odoo/odoo.git odoo 16.0\n")

with open(os.path.join(out, "buildouts", "MANIFEST.cfg"), "w") as f:
    f.write("[DEFAULT]\nbootstrap-version = 2.13.8\nrepo = https://git.example.com/customers\n\n")
    for b in range(buildouts):
        f.write(f"[customer-{b:03d}]\n")
        if b % 5 == 4:
            # inherits buildout, watch and addons; overrides the category
            f.write(f"inherit = customer-{b - 1:03d}\nbuild-category = inherited\n\n")
            continue
        kind = b % 3
        if kind == 0:
            f.write(f"buildout = git %(repo)s/c{b}.git main buildout.cfg\n")
        elif kind == 1:
            f.write(f"buildout = standalone c{b}.cfg\n")
            # the file and the one it extends, which `check` reads (a missing one is a warning)
            with open(os.path.join(out, "buildouts", f"c{b}.cfg"), "w") as c:
                c.write("[buildout]\nextends = base.cfg\n[odoo]\naddons = local addons\n")
        else:
            f.write(f"buildout = hg https://hg.example.com/c{b} default buildout.cfg\n")
        f.write(f"watch = git %(repo)s/addons-{b}.git 16.0\n    git https://github.com/odoo/odoo 16.0\n")
        f.write("openerp-addons = sale, stock, account, crm\n")
        f.write("build-for = postgresql >= 12\n" if b % 2 == 0 else "build-for = postgresql >= 12 < 17\n")
        if b % 7 == 0:
            f.write("build-requires = python >= 3.8\n")
        f.write(f"build-category = cat{b % 4}\ntree-stable-timer = {60 + b}\n")
        f.write("post-buildout-steps = install-modules-test\n\n")
