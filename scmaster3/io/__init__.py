"""Archives of the data model: binary (SCBA) and XML (sc3ml), and network payloads."""
