"""The read side: filters, full-text search, pagination, entity views and export.

Imports only ``schemas`` and itself; every function takes its Connection as a parameter.
"""
