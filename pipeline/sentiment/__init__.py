"""Sentiment classification: prepare -> featurize -> train -> evaluate, and the classifier for predict."""
