//! Render: traces, models and diagnostics into text for people and JSON for programs. The
//! simulation records; this module speaks.

pub mod log;
pub mod text;
