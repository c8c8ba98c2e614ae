"""Where risk concentrates: township figures, hot and cold spots, map colours, township GeoJSON."""
