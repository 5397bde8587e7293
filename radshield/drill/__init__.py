"""The ransomware drill of the lab (issue 18): a simulated attacker and the orchestrator that
runs detection, containment, evidence, failover, rebuild, restore and verification, timed."""
