"""Ting gateway: orchestration, durable jobs, storage and the public APIs (gRPC, REST, OpenAI-compatible)."""
