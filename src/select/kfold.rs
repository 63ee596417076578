//! k-fold cross-validation (see the parent module).
