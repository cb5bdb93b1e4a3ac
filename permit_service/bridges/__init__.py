"""Plant systems in their own protocols: the MQTT bridge and the OPC UA reader, beside the HTTP feeds."""
