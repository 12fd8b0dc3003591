"""Encode: the bitrate ladder, chunk planning, transcoding, frame sampling and test clips."""
