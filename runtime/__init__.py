"""The compact federated runtime: server, sites, Client API and workflows.

It reads compiled bundles only and never imports the compiler's loaders.
"""
