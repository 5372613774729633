//! What load failures mean and what to do about them.
