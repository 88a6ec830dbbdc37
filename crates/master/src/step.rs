//! Steps are data: the recipe's types, so the master runs exactly what `oebb check --steps`
//! prints.

pub use oebb_recipe::step::*;
