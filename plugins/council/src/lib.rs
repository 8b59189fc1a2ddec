//! The council connector (being written).
