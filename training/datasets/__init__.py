"""Datasets: MovieLens / MovieTweetings import, archive download, and the synthetic demo world.

Entry points: ``movielens.import_movielens``, ``movietweetings.import_movietweetings``,
``download.download_dataset``, ``synth.synthesize`` with ``synth.SynthConfig``, and
``event_log.export_event_log``.
"""
