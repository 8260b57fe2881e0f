"""The field's detectors, one file per detector or family, each implementing its paper."""
