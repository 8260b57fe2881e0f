"""The demo dataset builder: real faces from packaged media and their swapped and self-blended fakes."""
