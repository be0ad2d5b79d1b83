"""Real-time event-camera gesture recognition: sources, windows, frames, inference, GUI."""
