"""Pipeline wiring: typed configs, `create_pipeline`, runners and the CLI."""
