//! How `quota verify` looks: its table and its JSON.
