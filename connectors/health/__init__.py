"""卫生健康委员会 (health commission): item 13, eligibility for the one-child parents' reward, over REST."""
