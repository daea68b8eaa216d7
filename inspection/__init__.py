"""Reading a run back: ML Metadata stores, lineage, run records, pictures and reports.

Layer: imports `configs` and the standard library (and ml_metadata); `components` and `pipeline` use it.
"""
