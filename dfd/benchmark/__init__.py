"""`dfd benchmark`: detectors x training sets x test sets as one sweep, and its leaderboard."""
