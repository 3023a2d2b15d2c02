"""Calls callagent did not see live, rebuilt from the PBX's CEL store after a gap."""
