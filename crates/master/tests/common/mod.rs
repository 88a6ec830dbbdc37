//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod browser;
pub mod databases;
pub mod fake_worker;
pub mod odoo;
pub mod tester;
