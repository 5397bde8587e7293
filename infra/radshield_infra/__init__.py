"""Radshield landing zone: one Pulumi ComponentResource per concern."""
