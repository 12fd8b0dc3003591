"""Media pipeline by stage: ingest, encode, hls, enrich, and the jobs that run them on Ray."""
