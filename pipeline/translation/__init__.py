"""The translation task's stages (prepare so far)."""
