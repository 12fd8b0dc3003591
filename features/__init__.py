"""Feature store: the Feast repo of user and video features, offline and online."""
