"""Datasets: MovieLens / MovieTweetings import, archive download, and the synthetic demo world.

Entry points: ``movielens.import_movielens``, ``movietweetings.import_movietweetings``,
``download.download_dataset``, ``synth_writer.synthesize`` with ``synth.SynthConfig`` (the
simulation is ``synth.simulate``, its benchmark ``synth_bench``), and
``event_log.export_event_log``.
"""
