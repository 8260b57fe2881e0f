"""Online self-blending: pseudo-fakes made from real faces while training (Face X-ray, SBI)."""
