"""The benchmark's baselines: the same customers and orders in plain text, and encrypted with
django-fernet-encrypted-fields. Enabled only by bench.settings; tables are made at run time."""
