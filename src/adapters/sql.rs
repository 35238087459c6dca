//! (being built: see the adapters module table)
