//! Cross-crate integration tests live in `tests/tests/`; golden scripts in `tests/scenarios/`.
