"""Host and staff commands, one handler per module."""
