//! The default λ grid from the effective degrees of freedom (see the parent module).
