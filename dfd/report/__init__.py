"""What people look at: figures, the HTML report, W&B media, Grad-CAM and robustness plots."""
