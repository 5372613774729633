//! How `quota race` looks: its table and its JSON.
