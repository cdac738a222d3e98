"""The videx commands, one module per area, loaded by ``videx.cli`` when used."""
