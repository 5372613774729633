//! How `quota sandbox` looks: its table and its JSON.
