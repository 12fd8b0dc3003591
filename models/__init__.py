"""Recommendation models behind one small interface, and FAISS candidate indexes."""
