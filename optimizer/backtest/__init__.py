"""What smart charging would have saved: strategies replayed on real prices and sessions."""
