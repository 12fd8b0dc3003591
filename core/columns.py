"""Column names shared by the event log, Feast, training and serving."""

USER_ID = "user_id"
VIDEO_ID = "video_id"
EVENT_ID = "event_id"
EVENT_TYPE = "event_type"
EVENT_TIMESTAMP = "event_timestamp"
VALUE = "value"
WATCH_SECONDS = "watch_seconds"
SESSION_ID = "session_id"
CLIENT_ID = "client_id"
CREATED = "created"
SCORE = "score"
RANK = "rank"

#: Columns of the event log, in order, as written to parquet and the database.
EVENT_COLUMNS: tuple[str, ...] = (
    EVENT_ID,
    USER_ID,
    VIDEO_ID,
    EVENT_TYPE,
    VALUE,
    WATCH_SECONDS,
    EVENT_TIMESTAMP,
    CLIENT_ID,
    SESSION_ID,
)
