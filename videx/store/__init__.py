"""The catalog's storage layer: backends, the schema and one store per table family.

Only this package (and ``videx.catalog``, which owns the connection and transactions) holds
SQL. Workflow modules and the command line call the stores through a ``Catalog``.
"""
