"""Jobs: plan, run (Ray tasks), publish and record resumable transcoding jobs of videos."""
