"""Telegram: chats with clients (Telethon daily pull, Desktop-export import) and daily chat summaries."""
