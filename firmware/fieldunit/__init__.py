"""Field unit: health, storage guard, day/night, systemd integration, install check (issue 5)."""
