"""Tables, API schemas and workflow payloads of the billing service.

Import submodules directly: `models.payloads` must stay free of database imports so the
workflow sandbox can load it cheaply.
"""
