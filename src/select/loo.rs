//! Exact leave-one-out and GCV for ridge (see the parent module).
