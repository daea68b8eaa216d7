"""Run configuration: typed config tree (`run_config`), presets (`presets`), GLUE task table
(`glue_tasks`). A leaf package: it imports nothing of ours."""
