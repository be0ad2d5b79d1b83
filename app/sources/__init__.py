"""Event sources: files (AEDAT4, AEDAT 3.1, AEDAT 2.0), cameras and the DV network stream."""
