"""The configuration the repository holds, read once and typed: versions.yaml, environments.yaml,
the secret map, a site profile, where things live. Imports nothing above it.
"""
