//! Streaming Odoo/OpenERP server log analyzer.
