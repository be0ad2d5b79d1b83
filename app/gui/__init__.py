"""The desktop app (PyQt6 + pyqtgraph): live events, TCJA attention and predicted gestures.

``launch.run_gui`` is the entry point; it falls back to the headless classifier when there
is no display. The GUI thread only draws: the pipeline's worker threads read and infer.
"""
