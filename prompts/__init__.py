"""Language: LLM prompts and the es-MX message templates."""
