"""The language-model task: corpus -> token streams -> many-to-many model -> perplexity and generation."""
