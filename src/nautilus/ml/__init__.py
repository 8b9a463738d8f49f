"""Machine learning: model training and serving."""
