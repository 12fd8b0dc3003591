"""The FastAPI service: catalogue, HLS delivery, search and recommendations."""
