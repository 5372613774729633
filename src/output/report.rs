//! How `quota report` looks: its table and its JSON.
