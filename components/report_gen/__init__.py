"""ReportGen: the run report, written at the end of the DAG."""
