"""Tools that use both the app and the model: shipping a trained model, making demo recordings."""
