"""Reports to the curators' Telegram group."""
