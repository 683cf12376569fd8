//! Shared helpers of the data-driven harness.
