//! Pieces of the real-process (chaos) test: so far, the checker its histories go to.

pub mod registers;
