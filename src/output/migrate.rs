//! How `quota migrate` looks: its table and its JSON.
