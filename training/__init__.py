"""Offline work: datasets, splits, metrics, training and evaluation runs tracked in MLflow."""
