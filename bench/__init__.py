"""`make bench`: Shiori's encrypted search, pages, export, key rotation and audit verification,
measured side by side with a plaintext baseline and django-fernet-encrypted-fields on the
same data in the same database. See bench/README section in the project README."""
