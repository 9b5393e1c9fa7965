"""Uplink when coverage allows: durable queue, MQTT, LoRaWAN (issue 4)."""
