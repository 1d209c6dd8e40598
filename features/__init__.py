"""Point-in-time household features and escalation labels, from the warehouse.

Imports only ``warehouse`` (the layer below).
"""
