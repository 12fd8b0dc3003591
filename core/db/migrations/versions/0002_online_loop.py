"""online loop: experiments, variants, exposures, follows; richer interaction events

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 16:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EXPERIMENT_STATUS = sa.Enum(
    "draft", "running", "stopped", name="experimentstatus", native_enum=False, length=16
)


def upgrade() -> None:
    with op.batch_alter_table("interaction_events") as batch:
        batch.add_column(sa.Column("recommendation_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("properties", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("received_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_interaction_events_recommendation_id", "interaction_events", ["recommendation_id"]
    )
    # the viewer's history read on every recommendation, answered from the index alone
    op.drop_index("ix_events_user_time", table_name="interaction_events")
    op.create_index(
        "ix_events_user_history",
        "interaction_events",
        ["user_id", "event_timestamp", "event_type", "video_id"],
    )
    op.create_table(
        "follows",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "channel_id"),
    )
    op.create_index("ix_follows_channel_id", "follows", ["channel_id"])
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("status", _EXPERIMENT_STATUS, nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "experiment_variants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("traffic", sa.Float(), nullable=False),
        sa.Column("is_control", sa.Boolean(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("experiment_id", "name", name="uq_experiment_variants_name"),
    )
    op.create_index(
        "ix_experiment_variants_experiment_id", "experiment_variants", ["experiment_id"]
    )
    op.create_table(
        "exposures",
        sa.Column("recommendation_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("experiment", sa.String(length=64), nullable=True),
        sa.Column("variant", sa.String(length=64), nullable=True),
        sa.Column("surface", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("fallback", sa.Boolean(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=True),
        sa.Column("served_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("recommendation_id"),
    )
    op.create_index("ix_exposures_user_id", "exposures", ["user_id"])
    op.create_index("ix_exposures_experiment_variant", "exposures", ["experiment", "variant"])


def downgrade() -> None:
    op.drop_index("ix_exposures_experiment_variant", table_name="exposures")
    op.drop_index("ix_exposures_user_id", table_name="exposures")
    op.drop_table("exposures")
    op.drop_index("ix_experiment_variants_experiment_id", table_name="experiment_variants")
    op.drop_table("experiment_variants")
    op.drop_table("experiments")
    op.drop_index("ix_follows_channel_id", table_name="follows")
    op.drop_table("follows")
    op.drop_index("ix_events_user_history", table_name="interaction_events")
    op.create_index("ix_events_user_time", "interaction_events", ["user_id", "event_timestamp"])
    op.drop_index("ix_interaction_events_recommendation_id", table_name="interaction_events")
    with op.batch_alter_table("interaction_events") as batch:
        batch.drop_column("received_at")
        batch.drop_column("properties")
        batch.drop_column("recommendation_id")
