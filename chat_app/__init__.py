"""Gradio app for curators (client card + per-client RAG chat). Reads only the serving snapshot and LanceDB."""
