import sys


def run():
    sys.exit("oebb's stand-in for openerp-command (not on PyPI): no `oe` commands here")
