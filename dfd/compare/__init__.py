"""`dfd compare`: one table of many runs' evaluation results, seed groups as mean ± std."""
