"""Schemas are data: the item catalog, field allow-lists, status and code tables, WSDL/XSD and OpenAPI
documents. This file only makes the folder an importable data package, so the core finds it through
:func:`lianban.domain.schemas.schema_path` from a checkout and from an installed wheel alike."""
