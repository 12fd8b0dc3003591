"""Shared foundation: settings, paths, column names, domain types and the catalogue database."""
