"""Department connectors, one package each (``connectors/<department>/``). Connectors never import each
other; the REST gateway dialect they share is :mod:`connectors._rest`. Which class serves which department
is declared in ``schemas/catalog/departments.yaml`` and loaded by :mod:`lianban.app.registry`.
"""
