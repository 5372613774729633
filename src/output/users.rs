//! How `quota user`, `users`, `call` and `reset-user` looks: its table and its JSON.
