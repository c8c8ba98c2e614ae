"""The risk model: features, training, evaluation against the simple rules, persistence, suggestions to clues."""
