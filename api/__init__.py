"""The HTTP side: the QuartTrio app, one module of routes per Parse resource, the CLI."""
