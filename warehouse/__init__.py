"""The warehouse: the data contract, parsing of field exports, ingestion and the store.

``warehouse.contract`` declares the canonical tables (visits, incidents), their
headers in Simplified, Traditional and English forms, and the personal columns;
``warehouse.parsing`` turns raw cells into typed columns; ``warehouse.ingest``
validates, drops personal data, quarantines bad rows and writes the canonical
Parquet files; ``warehouse.store`` reads them back. This package is the bottom
layer: it imports nothing else of Revisit's.
"""
