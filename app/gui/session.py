"""Worker glue: one source, one model and the pipeline running between them (no Qt here).

The GUI changes settings and calls :meth:`Session.restart`; a file keeps its playback
position across restarts, a live source (camera, network) is reopened from its spec.
A recording in progress is handed from one pipeline to the next.

Example::

    s = Session()
    s.set_engine(InferenceEngine.from_checkpoint("small64", record=True))
    s.open("recordings/demo.aedat4")     # starts the pipeline
    s.pipe.latest                        # newest Prediction, read by the GUI timer
"""

from __future__ import annotations

from dataclasses import dataclass

from eventcore.geometry import Geometry
from app.pipeline import Pipeline
from app.sources.base import FileSource, Source
from app.sources.open import open_source
from app.sources.recorder import Recorder


@dataclass
class Settings:
    """What the user chose; None means the model's (checkpoint's) own value."""

    window_us: int | None = None
    hop_us: int | None = None
    roi: tuple[int, int, int] | None = None
    denoise: bool = False
    speed: float | None = 1.0
    loop: bool = True
    view_us: int = 100_000


class Session:
    """Owns the source, the engine, the running :class:`Pipeline` and the recorder."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.spec: str | None = None
        self.source: Source | None = None
        self.engine = None
        self.pipe: Pipeline | None = None
        self.recorder: Recorder | None = None

    @property
    def is_file(self) -> bool:
        return isinstance(self.source, FileSource)

    def open(self, spec: str) -> Source:
        """Open a new source (SourceError leaves the current one playing) and start on it."""
        new = open_source(spec)
        self.close()
        self.source, self.spec = new, spec
        self.settings.roi = None
        if isinstance(new, FileSource):
            new.speed = self.settings.speed
            new.loop = self.settings.loop
        self.start()
        return new

    def set_engine(self, engine) -> None:
        self._stop_pipe()
        self.engine = engine
        self.settings.window_us = self.settings.hop_us = None
        self.start()

    def geometry(self) -> Geometry | None:
        if self.source is None or self.engine is None:
            return None
        return Geometry(self.source.width, self.source.height, self.engine.input_size, self.settings.roi)

    def start(self) -> None:
        """Start a pipeline when both a source and a model are present (ValueError on bad settings)."""
        if self.source is None or self.engine is None:
            return
        noise = None
        if self.settings.denoise:
            from app.noise import NoiseFilter

            noise = NoiseFilter("background_activity", self.source.width, self.source.height)
        pipe = Pipeline(self.source, self.engine, window_us=self.settings.window_us, hop_us=self.settings.hop_us,
                        geometry=self.geometry(), noise_filter=noise, drop=True, view_us=self.settings.view_us)
        pipe.set_recorder(self.recorder)
        self.pipe = pipe
        pipe.start()

    def restart(self) -> None:
        """Apply changed settings: a new pipeline on the same (or reopened live) source."""
        self._stop_pipe()
        if self.source is not None and not self.is_file and self.spec is not None:
            self.source = open_source(self.spec)
        self.start()

    def _stop_pipe(self) -> None:
        if self.pipe is not None:
            self.pipe.set_recorder(None)  # the recording outlives the pipeline
            self.pipe.stop()
            self.pipe = None

    def start_recording(self, path: str) -> Recorder:
        if self.source is None:
            raise ValueError("no source to record")
        self.stop_recording()
        self.recorder = Recorder(path, self.source.width, self.source.height, camera=self.source.camera)
        if self.pipe is not None:
            self.pipe.set_recorder(self.recorder)
        return self.recorder

    def stop_recording(self) -> Recorder | None:
        """Detach the recorder from the reader (waiting for a write in progress); the caller closes it."""
        rec, self.recorder = self.recorder, None
        if self.pipe is not None:
            self.pipe.set_recorder(None)
        return rec

    def close(self) -> None:
        """Finish any recording, stop the pipeline and release the source."""
        rec = self.stop_recording()
        self._stop_pipe()
        if rec is not None:
            rec.close()
        if self.source is not None:
            self.source.close()
