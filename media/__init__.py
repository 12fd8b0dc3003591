"""Media pipeline: probe, transcode and package videos for streaming (Ray tasks over PyAV)."""
