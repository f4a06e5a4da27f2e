"""The use cases that verbs and `apply` share (apply/plan/destroy, values, secrets sync, releases, rotate,
smoke, backups, images, namespaces, the models behind the generated docs). Imports adapters/ and config/,
never commands/ or cli.
"""
