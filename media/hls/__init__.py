"""HLS: ISO-BMFF, segmenting and fMP4 packaging (rungs, audio, master), playlists, validation."""
