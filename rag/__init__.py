"""Questions about a client: passages (`chunks`), their LanceDB index (`index`), embeddings, retrieval, answers with
citations and the warehouse tools the model may call. No Dagster: the app, the CLI and the `rag_index` asset use it."""
