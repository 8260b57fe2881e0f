"""The train and evaluate jobs behind train.py, evaluate.py and `dfd train|evaluate`, with their runtime."""
