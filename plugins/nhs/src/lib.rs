//! The nhs connector (being written).
