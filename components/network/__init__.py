"""Networks per cloud and the bandwidth tier table."""
