//! What migrate failures mean and what to do about them.
