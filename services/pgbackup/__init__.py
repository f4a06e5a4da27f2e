"""The backup runner of the pgbackup image (pgbackup.py); imported by the tests as services.pgbackup."""
