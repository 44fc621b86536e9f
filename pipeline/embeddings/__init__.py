"""The embeddings task: word2vec runs, and queries and evaluation of any word vectors."""
