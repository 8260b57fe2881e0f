"""What the tests share: tiny runs and configs, real media cases, evaluation cases, real servers."""
