//! The housing connector (being written).
