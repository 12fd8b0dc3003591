"""Enrich: posters, storyboards, MP4 downloads, text and visual embeddings, fingerprints."""
