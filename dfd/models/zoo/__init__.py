"""The field's detectors, one file per detector or family (issue 18)."""
