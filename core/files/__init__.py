"""Parse files: where the bytes live (adapters), names, options and the upload/download service."""
