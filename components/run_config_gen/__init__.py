"""RunConfigGen: records the resolved run config at the start of the DAG."""
