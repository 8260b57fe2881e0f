"""Raw videos to face crops: decoding, face detection and tracking, crops, records, the manifest."""
