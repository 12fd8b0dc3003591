"""The Feast feature repo: module-level definitions only (Feast imports every file here)."""
