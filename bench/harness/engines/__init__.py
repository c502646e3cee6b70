"""Engine adapters: Needle and the anchors."""
