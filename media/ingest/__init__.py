"""Ingest: probe media, validate uploads and store the uploaded originals."""
