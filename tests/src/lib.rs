//! Cross-crate integration tests live in `tests/tests/`; golden scripts in `tests/scenarios/`.
//! The library holds what those tests share: the chaos test's history checker.

pub mod chaos;
pub mod golden;
