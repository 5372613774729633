//! What users failures mean and what to do about them.
