"""The gateway's HTTP side: REST API, OpenAI-compatible endpoints, signed downloads and the web page."""
