"""The community layer: discussion on papers (comments, replies, votes, reports, moderation) and roles."""
