//! How `quota bench` looks: its table and its JSON.
