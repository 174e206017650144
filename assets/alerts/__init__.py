"""Churn alerts delivered to the team's Telegram group."""
