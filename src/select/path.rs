//! Fits along a grid of λ (see the parent module).
