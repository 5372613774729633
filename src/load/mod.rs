//! Load on the enforcement: what `race` and `bench` share.
