"""Analytics: what a shop's mirror says about its customers coming back, as figures a chart can draw."""
