"""The app's tabs: each module builds its part of the layout and wires its events (each with an explicit
api_name; the UI-only ones are kept out of the HTTP API)."""
