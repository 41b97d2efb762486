"""Static files of the TensorCap tab, served by the plugin."""
