"""The standby copy of the PACS (issue #17, RPO 0): test and bench tooling around
roles/pacs_forwarder/files/radshield-forwarder (the program itself is a stdlib-only file
of the role, installed on the PACS)."""
