"""Pure AEDAT 2.0 and 3.1 readers: bytes on disk to the event array, with checks."""
