"""Meetings: Jitsi/Jibri recordings → transcripts → summaries."""
